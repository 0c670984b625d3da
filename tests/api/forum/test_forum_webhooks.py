"""REST hook subscriptions of the forum: the seed's envelope for member, post, comment and reply
events, delivered by the serving app's own worker; the delivery log; pausing and resuming."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import httpx
import pytest

from tests.api.forum.conftest import Forum, create_board, create_post, create_user, unique
from tests.jobs.receiver import Receiver
from townhall.container import Container
from townhall.jobs import webhooks
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
    for url in ("ftp://x", "http://[::1", "http://xn--/", "http://:80/", "http://8.8.8.8:99999/", "//8.8.8.8/"):
        bad_url = await admin.post("/webhooks", json={"target_url": url, "events": ["post.created"]})
        assert bad_url.status_code == 400 and "target_url" in bad_url.json()["message"], (url, bad_url.text)
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


INTERNAL_TARGETS = ["http://127.0.0.1:9/", "http://localhost:8080/hook", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
                    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.0.10:8080/",
                    "http://0.0.0.0/", "http://[fe80::1]/", "http://224.0.0.1/", "http://2130706433/",
                    "https://hooks.townhall.invalid/"]


async def test_webhook_targets_that_are_not_public_addresses_are_refused(
        admin: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container.settings.forum, "allow_private_webhook_targets", False)
    before = (await admin.get("/webhooks", params={"page_size": 50})).json()
    for target in INTERNAL_TARGETS:
        refused = await admin.post("/webhooks", json={"target_url": target, "events": ["post.created"]})
        assert refused.status_code == 400, (target, refused.text)
        assert set(refused.json()) == {"id", "status", "time", "message"} and "target_url" in refused.json()["message"]
    assert (await admin.get("/webhooks", params={"page_size": 50})).json() == before


async def test_a_webhook_host_name_is_judged_by_the_addresses_it_resolves_to(
        admin: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container.settings.forum, "allow_private_webhook_targets", False)
    answers = {"inside.example.com": ["8.8.8.8", "10.0.0.7"], "outside.example.com": ["8.8.8.8"]}

    async def resolve(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(webhooks, "resolve", resolve)
    mixed = await admin.post("/webhooks", json={"target_url": "https://inside.example.com/h",
                                                "events": ["post.created"]})
    assert mixed.status_code == 400 and "10.0.0.7" in mixed.json()["message"]
    made = await admin.post("/webhooks", json={"target_url": "https://outside.example.com/h",
                                               "events": ["post.created"]})
    assert made.status_code == 200, made.text
    assert (await admin.delete(f"/webhooks/{made.json()['subscription_id']}")).status_code == 200


async def test_only_admins_learn_whether_a_webhook_target_is_refused(
        forum_client: Forum, member_key: str, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container.settings.forum, "allow_private_webhook_targets", False)
    answer = await forum_client(member_key).post("/webhooks", json={"target_url": "http://127.0.0.1/",
                                                                    "events": ["post.created"]})
    assert answer.status_code == 403
