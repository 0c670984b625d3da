"""REST hook subscriptions of the forum: the seed's envelope for member, post, comment and reply
events, delivered by the serving app's own worker; the delivery log; pausing and resuming."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.forum.conftest import create_board, create_post, create_user, unique
from tests.jobs.receiver import Receiver
from townhall.jobs.worker import verify


async def test_subscribers_receive_member_and_content_events_in_the_seed_envelope(
        admin: httpx.AsyncClient) -> None:
    with Receiver() as receiver:
        events = ["member.joined", "member.joined_waitlist", "post.created", "post.approved", "post.updated",
                  "comment.created", "reply.created"]
        sub = (await admin.post("/webhooks", json={"target_url": receiver.url, "events": events})).json()
        assert sub["status"] == "active" and len(sub["secret"]) == 64
        mark = unique("mark")
        user = await create_user(admin, first_name=mark)
        waiting = await create_user(admin, user_status=4)
        board = await create_board(admin, needs_approval=True)
        post = await create_post(admin, board["board_id"], user["msid"])
        await admin.post(f"/posts/{post['post_id']}/approve")
        comment = (await admin.post("/comments", json={"post_id": post["post_id"], "content": "c",
                                                       "author": user["msid"]})).json()
        await admin.post("/replies", json={"comment_id": comment["comment_id"], "content": "r",
                                           "author": user["msid"]})

        def mine(got: list) -> list:  # type: ignore[type-arg]
            return [r for r in got if r.json["event"] in events and _about(r.json, user, waiting, post)]

        got = await asyncio.to_thread(receiver.wait_for, lambda g: len(mine(g)) >= 6)
    by_event = {r.json["event"]: r for r in mine(got)}
    assert set(by_event) == {"member.joined", "member.joined_waitlist", "post.created", "post.approved",
                             "comment.created", "reply.created"}
    joined = by_event["member.joined"].json
    assert set(joined) == {"event", "job_id", "entities"}
    assert joined["entities"]["user"][0]["msid"] == user["msid"]
    assert joined["entities"]["user"][0]["email"] == user["email"]
    assert by_event["post.created"].json["entities"]["post"][0]["post_status"] == 4
    assert by_event["post.approved"].json["entities"]["post"][0]["post_status"] == 15
    for r in by_event.values():
        h = r.headers
        assert verify(sub["secret"], h["x-townhall-timestamp"], h["x-townhall-delivery"], r.body,
                      h["x-townhall-signature"])
    log = await admin.get(f"/webhooks/{sub['subscription_id']}/deliveries", params={"page_size": 50})
    assert log.status_code == 200 and all(d["outcome"] == "delivered" for d in log.json())
    assert (await admin.delete(f"/webhooks/{sub['subscription_id']}")).status_code == 200
    assert (await admin.get(f"/webhooks/{sub['subscription_id']}")).status_code == 404


def _about(body: dict, user: dict, waiting: dict, post: dict) -> bool:  # type: ignore[type-arg]
    entities = body["entities"]
    if "user" in entities:
        return entities["user"][0]["msid"] in (user["msid"], waiting["msid"])
    if "post" in entities:
        return entities["post"][0]["post_id"] == post["post_id"]
    thing = (entities.get("comment") or entities.get("reply"))[0]
    return thing["post_id"] == post["post_id"]


async def test_subscriptions_are_validated(admin: httpx.AsyncClient) -> None:
    bad_url = await admin.post("/webhooks", json={"target_url": "ftp://x", "events": ["post.created"]})
    assert bad_url.status_code == 400
    unknown = await admin.post("/webhooks", json={"target_url": "http://127.0.0.1:9/", "events": ["nope"]})
    assert unknown.status_code == 400 and "nope" in unknown.json()["message"]
    listed = await admin.get("/webhooks/events")
    assert {"member.joined", "post.created"} <= {e["event"] for e in listed.json()}
    sub = (await admin.post("/webhooks", json={"target_url": "http://127.0.0.1:9/", "events": ["post.created"]})
           ).json()
    assert "secret" not in (await admin.get(f"/webhooks/{sub['subscription_id']}")).json()
    assert sub["subscription_id"] in {s["subscription_id"] for s in (await admin.get("/webhooks")).json()}
    resumed = await admin.post(f"/webhooks/{sub['subscription_id']}/resume")
    assert resumed.json()["status"] == "active"
    await admin.delete(f"/webhooks/{sub['subscription_id']}")
