"""A community's backend drives the whole habitate API over HTTP against a real ``townhall serve``:
boards of each visibility, users, a post needing approval, comments, replies, reactions, tags,
search, and a webhook receiver that hears about all of it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunTownhall, spawn_server, stop_server
from tests.jobs.databases import fresh_database
from tests.jobs.receiver import Receiver
from townhall.jobs.worker import verify

EVENTS = ["member.joined", "member.joined_waitlist", "post.created", "post.updated", "post.approved",
          "comment.created", "comment.updated", "reply.created", "reply.updated"]


@pytest.fixture
async def forum_server(tmp_path: Path, run_townhall: RunTownhall) -> AsyncIterator[tuple[str, str]]:
    """``(base URL, forum API key)`` of a ``townhall serve`` of its own whose webhooks may go to
    loopback (where the receiver listens; refused by default)."""
    async with fresh_database(tmp_path, migrate=False) as database_url:
        env = {"TOWNHALL_DATABASE_URL": database_url, "TOWNHALL_FORUM__ALLOW_PRIVATE_WEBHOOK_TARGETS": "true"}
        process, base_url = spawn_server(tmp_path, database_url, tmp_path / "server.log", env=env)
        try:
            keys = json.loads(run_townhall("keys", "--json", "--data-dir", str(tmp_path), env=env).stdout)
            yield base_url, keys["forum"]["api_key"]
        finally:
            stop_server(process)


async def test_a_community_backend_runs_its_forum_through_the_api(forum_server: tuple[str, str]) -> None:
    base_url, api_key = forum_server
    tag = uuid.uuid4().hex[:8]
    with Receiver() as receiver:
        async with httpx.AsyncClient(base_url=f"{base_url}/forum/api/v1", timeout=10,
                                     auth=("community_backend", api_key)) as api:
            me = (await api.get("/users/me")).json()
            assert me["is_bot"] and me["role_id"] == 2
            sub = (await api.post("/webhooks", json={"target_url": receiver.url, "events": EVENTS})).json()

            async def user(first: str, **extra: object) -> dict:  # type: ignore[type-arg]
                response = await api.post("/users", json={"first_name": first, "last_name": "Doe",
                                                          "email": f"{first}.{tag}@example.com",
                                                          "username": f"{first}_{tag}", **extra})
                assert response.status_code == 200, response.text
                return response.json()  # type: ignore[no-any-return]

            alice, bob = await user("alice", sso_id=f"sso-{tag}"), await user("bob")
            carol = await user("carol", user_status=4)
            assert (await api.patch(f"/users/{bob['msid']}", json={"action": 101, "data": {"role_id": 3}})
                    ).json()["role_id"] == 3

            async def board(name: str, **fields: object) -> dict:  # type: ignore[type-arg]
                body = {"board_name": f"{name} {tag}", "is_private": False, "hidden_type": 0, "permission_for": 10,
                        "needs_approval": False, "about": f"the {name} board", **fields}
                response = await api.post("/boards", json=body)
                assert response.status_code == 200, response.text
                return response.json()  # type: ignore[no-any-return]

            public = await board("public")
            logged_in = await board("members", hidden_type=1)
            secret = await board("secret", is_private=True, hidden_type=2)
            moderated = await board("moderated", needs_approval=True, permission_for=5)
            assert (await api.put(f"/boards/{secret['board_id']}/members",
                                  json={"member_changes": {alice["msid"]: True, bob["msid"]: True}})).json() == {
                "message": "OK"}
            order = {str(b["board_id"]): i for i, b in enumerate((moderated, secret, logged_in, public), 1)}
            assert (await api.patch("/boards/reorder", json={"display_order": order})).status_code == 200

            hello = (await api.post("/posts", json={
                "board_id": public["board_id"], "headline": "Hello",
                "content": f"<p>Welcome to <b>{tag}</b>!<script>steal()</script></p>",
                "authors": [alice["msid"]]})).json()
            assert hello["post_status"] == 15 and hello["clean_text"] == f"Welcome to {tag}!"
            pending = (await api.post("/posts", json={
                "board_id": moderated["board_id"], "headline": "Rules", "content": "<p>Be kind</p>",
                "authors": [bob["msid"]]})).json()
            assert pending["post_status"] == 4
            assert (await api.post(f"/posts/{pending['post_id']}/approve")).json()["post_status"] == 15
            edited = await api.put(f"/posts/{hello['post_id']}", json={
                "board_id": public["board_id"], "headline": "Hello all", "content": hello["content"],
                "authors": [alice["msid"]]})
            assert edited.json()["headline"] == "Hello all"

            comment = (await api.post("/comments", json={"post_id": hello["post_id"], "content": "Hi Alice",
                                                         "author": bob["msid"]})).json()
            reply = (await api.post("/replies", json={"comment_id": comment["comment_id"], "content": "Hi Bob",
                                                      "author": alice["msid"]})).json()
            for who, slot in ((alice, "s1"), (bob, "s1"), (carol, "s2")):
                if who is carol:  # on the wait-list: not active, cannot react yet
                    refused = await api.post("/reactions", json={"ref_type": "POST", "ref_id": hello["post_id"],
                                                                 "slot": slot, "user": who["msid"]})
                    assert refused.status_code == 403
                    continue
                await api.post("/reactions", json={"ref_type": "POST", "ref_id": hello["post_id"], "slot": slot,
                                                   "user": who["msid"]})
            await api.post("/reactions", json={"ref_type": "REPLY", "ref_id": reply["reply_id"], "slot": "s4",
                                               "user": bob["msid"]})

            welcome = (await api.post("/tags", json={"name": f"Welcome {tag}", "text_color": "#1b95e0"})).json()
            await api.post("/tags/mapping", json={"tag_id": welcome["tag_id"], "ref_type": "POST",
                                                  "ref_id": hello["post_id"]})
            assert [t["tag_id"] for t in (await api.get("/tags/search", params={"q": tag})).json()] == [
                welcome["tag_id"]]

            final = (await api.get(f"/posts/{hello['post_id']}")).json()
            assert (final["comment_count"], final["reply_count"], final["react_count"], final["reactions"]) == (
                1, 1, 2, {"s1": 2})
            assert (await api.get(f"/replies/{reply['reply_id']}")).json()["reactions"] == {"s4": 1}
            assert [p["post_id"] for p in (await api.get("/posts/search", params={"q": tag})).json()] == [
                hello["post_id"]]
            boards = [b["board_id"] for b in (await api.get("/boards", params={"page_size": 50})).json()]
            mine = [b for b in boards if str(b) in order]
            assert mine == [moderated["board_id"], secret["board_id"], logged_in["board_id"], public["board_id"]]
            listed = await api.get(f"/posts/{hello['post_id']}/comments")
            assert listed.headers["has_more"] == "0" and [c["comment_id"] for c in listed.json()] == [
                comment["comment_id"]]

            wanted = {("member.joined", alice["msid"]), ("member.joined", bob["msid"]),
                      ("member.joined_waitlist", carol["msid"]), ("post.created", hello["post_id"]),
                      ("post.created", pending["post_id"]), ("post.approved", pending["post_id"]),
                      ("post.updated", hello["post_id"]), ("comment.created", comment["comment_id"]),
                      ("reply.created", reply["reply_id"])}

            def heard(got: list) -> set:  # type: ignore[type-arg]
                out = set()
                for r in got:
                    body = r.json
                    (kind, things), = body["entities"].items()
                    key = {"user": "msid", "post": "post_id", "comment": "comment_id", "reply": "reply_id"}[kind]
                    out.add((body["event"], things[0][key]))
                return out

            got = await asyncio.to_thread(receiver.wait_for, lambda g: wanted <= heard(g), 30)
            for r in got:
                assert verify(sub["secret"], r.headers["x-townhall-timestamp"], r.headers["x-townhall-delivery"],
                              r.body, r.headers["x-townhall-signature"])
            await api.delete(f"/webhooks/{sub['subscription_id']}")
