"""Boards, posts, comments, replies, reactions and their counts through the habitate API."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.api.forum.conftest import create_board, create_post, create_user


async def test_a_post_its_comments_and_replies_keep_every_count_right(admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    board = await create_board(admin)
    post = await create_post(admin, board["board_id"], author["msid"],
                             content='<p>Hello <script>alert(1)</script><a href="javascript:x" onclick="y">w</a></p>')
    assert post["post_status"] == 15
    assert "script" not in post["content"] and "onclick" not in post["content"]
    assert post["clean_text"] == "Hello w"
    assert post["user"]["msid"] == author["msid"]
    assert "reactions" not in post and "last_edited_at" not in post  # null fields are left out

    comment = (await admin.post("/comments", json={"post_id": post["post_id"], "content": "first!",
                                                   "author": author["msid"]})).json()
    reply = (await admin.post("/replies", json={"comment_id": comment["comment_id"], "content": "re",
                                                "author": author["msid"]})).json()
    assert reply["post_id"] == post["post_id"] and reply["status"] == 15 and reply["state"] == 0

    got = (await admin.get(f"/posts/{post['post_id']}")).json()
    assert (got["comment_count"], got["reply_count"], got["view_count"]) == (1, 1, 1)
    assert (await admin.get(f"/comments/{comment['comment_id']}")).json()["reply_count"] == 1
    board_now = (await admin.get(f"/boards/{board['board_id']}")).json()
    assert board_now["post_count"] == 1 and "last_posted_at" in board_now
    me = (await admin.get(f"/users/{author['msid']}")).json()
    assert (me["post_count"], me["comment_count"], me["reply_count"]) == (1, 1, 1)

    assert (await admin.delete(f"/replies/{reply['reply_id']}")).status_code == 200
    got = (await admin.get(f"/posts/{post['post_id']}")).json()
    assert (got["comment_count"], got["reply_count"]) == (1, 0)
    assert (await admin.get(f"/replies/{reply['reply_id']}")).status_code == 404


async def test_reactions_fill_slots_once_per_user(admin: httpx.AsyncClient) -> None:
    alice, bob = await create_user(admin), await create_user(admin)
    board = await create_board(admin)
    post = await create_post(admin, board["board_id"], alice["msid"])
    ref = {"ref_type": "POST", "ref_id": post["post_id"]}
    await admin.post("/reactions", json={**ref, "slot": "s2", "user": alice["msid"]})
    again = await admin.post("/reactions", json={**ref, "slot": "s2", "user": alice["msid"]})
    assert again.json()["reactions"] == {"s2": 1} and again.json()["react_count"] == 1
    moved = await admin.post("/reactions", json={**ref, "slot": 3, "user": alice["msid"]})
    assert moved.json()["reactions"] == {"s3": 1}
    both = await admin.post("/reactions", json={**ref, "slot": "s3", "user": bob["msid"]})
    assert both.json()["reactions"] == {"s3": 2} and both.json()["react_count"] == 2
    removed = await admin.delete("/reactions", params={**ref, "user": alice["msid"]})
    assert removed.json()["reactions"] == {"s3": 1} and removed.json()["react_count"] == 1
    bad = await admin.post("/reactions", json={**ref, "slot": "s99", "user": bob["msid"]})
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_REQUEST"


async def test_deleting_a_post_or_board_takes_what_hangs_below_out_of_every_count(admin: httpx.AsyncClient) -> None:
    alice, bob = await create_user(admin), await create_user(admin)
    board = await create_board(admin)
    post = await create_post(admin, board["board_id"], alice["msid"])
    comment = (await admin.post("/comments", json={"post_id": post["post_id"], "content": "c",
                                                   "author": bob["msid"]})).json()
    reply = (await admin.post("/replies", json={"comment_id": comment["comment_id"], "content": "r",
                                                "author": bob["msid"]})).json()

    async def counts(user: dict) -> tuple[int, int, int]:  # type: ignore[type-arg]
        got = (await admin.get(f"/users/{user['msid']}")).json()
        return got["post_count"], got["comment_count"], got["reply_count"]

    assert await counts(bob) == (0, 1, 1)
    assert (await admin.delete(f"/comments/{comment['comment_id']}")).status_code == 200
    assert await counts(bob) == (0, 0, 0)
    assert (await admin.get(f"/replies/{reply['reply_id']}")).status_code == 404
    got = (await admin.get(f"/posts/{post['post_id']}")).json()
    assert (got["comment_count"], got["reply_count"]) == (0, 0)

    second = await create_post(admin, board["board_id"], alice["msid"])
    await admin.post("/comments", json={"post_id": second["post_id"], "content": "c", "author": bob["msid"]})
    assert await counts(alice) == (2, 0, 0) and await counts(bob) == (0, 1, 0)
    assert (await admin.delete(f"/boards/{board['board_id']}")).status_code == 200
    assert await counts(alice) == (0, 0, 0) and await counts(bob) == (0, 0, 0)
    assert (await admin.get(f"/posts/{second['post_id']}")).status_code == 404


async def test_a_create_retried_with_the_same_idempotency_key_makes_one_thing(admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    board = await create_board(admin)
    body = {"board_id": board["board_id"], "headline": "once", "content": "<p>only once</p>",
            "authors": [author["msid"]]}
    key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
    first = await admin.post("/posts", json=body, headers=key)
    again = await admin.post("/posts", json=body, headers=key)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert (await admin.get(f"/boards/{board['board_id']}")).json()["post_count"] == 1
    other = await admin.post("/comments", json={"post_id": first.json()["post_id"], "content": "c",
                                                "author": author["msid"]}, headers=key)
    assert other.status_code == 409  # the key named another request
    fresh = await admin.post("/posts", json=body, headers={"Idempotency-Key": f"retry-{uuid.uuid4().hex}"})
    assert fresh.json()["post_id"] != first.json()["post_id"]
    assert (await admin.post("/posts", json=body, headers={"Idempotency-Key": "x" * 300})).status_code == 400


async def test_concurrent_retries_with_one_idempotency_key_make_one_thing(admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    board = await create_board(admin)
    body = {"board_id": board["board_id"], "headline": "race", "content": "<p>race</p>", "authors": [author["msid"]]}
    key = {"Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    answers = await asyncio.gather(*(admin.post("/posts", json=body, headers=key) for _ in range(5)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["post_id"] for a in answers}) == 1
    assert (await admin.get(f"/boards/{board['board_id']}")).json()["post_count"] == 1


async def test_an_idempotency_key_sent_again_with_another_body_is_a_conflict(admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    board = await create_board(admin)
    body = {"board_id": board["board_id"], "headline": "first", "content": "<p>first</p>",
            "authors": [author["msid"]]}
    key = {"Idempotency-Key": f"body-{uuid.uuid4().hex}"}
    assert (await admin.post("/posts", json=body, headers=key)).status_code == 200
    changed = await admin.post("/posts", json={**body, "headline": "second"}, headers=key)
    assert changed.status_code == 409 and "Idempotency-Key" in changed.json()["message"]
    assert (await admin.get(f"/boards/{board['board_id']}")).json()["post_count"] == 1
