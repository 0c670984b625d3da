"""Requests racing each other get an answer, never a server error: the same thing made twice at
once, a reply written while its post is deleted (PostgreSQL runs them truly at the same time)."""

from __future__ import annotations

import asyncio
import base64

import httpx

from tests.api.forum.conftest import Forum, create_board, create_post, create_user, unique

RACERS = 8


async def _race(*requests: object) -> list[int]:
    answers = await asyncio.gather(*requests)  # type: ignore[call-overload]
    return [r.status_code for r in answers]


async def test_the_same_tag_mapping_tag_name_user_and_member_made_at_once_never_fail(
        forum_client: Forum, admin_key: str, admin: httpx.AsyncClient) -> None:
    clients = [forum_client(admin_key) for _ in range(RACERS)]
    name = unique("race")
    codes = await _race(*(c.post("/tags", json={"name": name}) for c in clients))
    assert sorted(set(codes)) in ([200], [200, 409]) and codes.count(200) == 1, codes

    tag = (await admin.get("/tags/search", params={"q": name})).json()[0]
    user = await create_user(admin)
    mapping = {"tag_id": tag["tag_id"], "ref_type": "USER", "ref_id": user["msid"]}
    assert set(await _race(*(c.post("/tags/mapping", json=mapping) for c in clients))) == {200}

    email = f"{unique()}@example.com"
    body = {"first_name": "Race", "email": email}
    codes = await _race(*(c.post("/users", json={**body, "username": unique()}) for c in clients))
    assert codes.count(200) == 1 and set(codes) <= {200, 409}, codes
    sso = unique("sso")
    codes = await _race(*(c.post("/users", json={"first_name": "S", "email": f"{unique()}@example.com",
                                                 "sso_id": sso}) for c in clients))
    assert set(codes) <= {200, 409} and 200 in codes, codes

    board = await create_board(admin, is_private=True)
    change = {"member_changes": {user["msid"]: True}}
    assert set(await _race(*(c.put(f"/boards/{board['board_id']}/members", json=change) for c in clients))) == {200}


async def test_replies_written_while_their_post_is_deleted_never_fail(forum_client: Forum, admin_key: str,
                                                                     admin: httpx.AsyncClient) -> None:
    board = await create_board(admin)
    author = await create_user(admin)
    for _ in range(3):
        post = await create_post(admin, board["board_id"], author["msid"])
        comment = (await admin.post("/comments", json={"post_id": post["post_id"], "content": "c",
                                                       "author": author["msid"]})).json()
        clients = [forum_client(admin_key) for _ in range(RACERS)]
        replies = [c.post("/replies", json={"comment_id": comment["comment_id"], "content": "r",
                                            "author": author["msid"]}) for c in clients[1:]]
        codes = await _race(clients[0].delete(f"/posts/{post['post_id']}"), *replies)
        assert codes[0] == 200 and set(codes[1:]) <= {200, 403, 404}, codes


async def test_control_characters_in_the_basic_username_are_refused_not_500(forum_client: Forum,
                                                                           admin_key: str) -> None:
    http = forum_client(None)
    for system in ("sys\x00tem", "sys\x01", "a\nb"):
        token = base64.b64encode(f"{system}:{admin_key}".encode()).decode()
        response = await http.get("/users/me", headers={"Authorization": f"Basic {token}"})
        assert response.status_code in (400, 403), (system, response.text)


async def test_huge_lists_are_refused_without_echoing_every_id(admin: httpx.AsyncClient) -> None:
    board = await create_board(admin)
    body = {"board_name": unique("b"), "is_private": False, "hidden_type": 0, "permission_for": 10,
            "needs_approval": False}
    response = await admin.put(f"/boards/{board['board_id']}", json={**body, "pinned_posts": list(range(1, 40_001))})
    assert response.status_code == 400 and len(response.text) < 1000
    unknown = list(range(10**9, 10**9 + 50))
    response = await admin.put(f"/boards/{board['board_id']}", json={**body, "pinned_posts": unknown})
    assert response.status_code == 400 and len(response.text) < 1000 and "more" in response.json()["message"]
    order = {str(i): i for i in range(1, 40_001)}
    response = await admin.patch("/boards/reorder", json={"display_order": order})
    assert response.status_code == 400 and len(response.text) < 1000
    members = {f"{i}.x": True for i in range(1, 40_001)}
    response = await admin.put(f"/boards/{board['board_id']}/members", json={"member_changes": members})
    assert response.status_code == 400 and len(response.text) < 1000
    members = {f"{i}.x": True for i in range(10**9, 10**9 + 1000)}
    response = await admin.put(f"/boards/{board['board_id']}/members", json={"member_changes": members})
    assert response.status_code == 400 and len(response.text) < 1000
