"""Who may do what is decided by the API user's role and board membership, not the author's."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tests.api.forum.conftest import Forum, create_board, create_post, create_user, make_key
from townhall.container import Container
from townhall.core.forum.models import MEMBER, OWNER
from townhall.core.forum.tables import forum_profiles


async def test_members_cannot_administer_boards_users_or_webhooks(forum_client: Forum, member_key: str,
                                                                  admin: httpx.AsyncClient) -> None:
    member = forum_client(member_key)
    user = await create_user(admin)
    board = await create_board(admin)
    body = {"board_name": "x", "is_private": False, "hidden_type": 0, "permission_for": 10, "needs_approval": False}
    assert (await member.post("/boards", json=body)).status_code == 403
    assert (await member.put(f"/boards/{board['board_id']}", json=body)).status_code == 403
    assert (await member.patch("/boards/reorder", json={"display_order": {str(board["board_id"]): 1}})).status_code == 403
    assert (await member.post("/users", json={"first_name": "x", "email": "x@example.com"})).status_code == 403
    assert (await member.patch(f"/users/{user['msid']}", json={"action": 101, "data": {"role_id": 2}})).status_code == 403
    assert (await member.post("/webhooks", json={"target_url": "http://127.0.0.1:9/", "events": ["post.created"]})
            ).status_code == 403
    assert (await member.post("/tags", json={"name": "nope"})).status_code == 403
    assert (await member.get(f"/users/{user['user_id']}")).status_code == 403  # by id needs LIST permission
    got = (await member.get(f"/users/{user['msid']}")).json()
    assert "email" not in got  # fields the caller may not see are left out
    assert (await admin.get(f"/users/{user['user_id']}")).json()["email"] == user["email"]


async def test_permission_for_decides_which_api_users_post(forum_client: Forum, member_key: str,
                                                          moderator_key: str, admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    post = {"headline": "h", "content": "c", "authors": [author["msid"]]}
    for permission_for, allowed in ((1, {"admin"}), (5, {"admin", "moderator"}),
                                    (10, {"admin", "moderator", "member"})):
        board = await create_board(admin, permission_for=permission_for)
        for name, key in (("member", member_key), ("moderator", moderator_key)):
            response = await forum_client(key).post("/posts", json={**post, "board_id": board["board_id"]})
            assert response.status_code == (200 if name in allowed else 403), (permission_for, name, response.text)
        assert (await admin.post("/posts", json={**post, "board_id": board["board_id"]})).status_code == 200


async def test_private_and_hidden_boards_are_for_their_members(forum_client: Forum, member_key: str,
                                                               admin: httpx.AsyncClient) -> None:
    member = forum_client(member_key)
    me = (await member.get("/users/me")).json()
    author = await create_user(admin)
    hidden = await create_board(admin, is_private=True, hidden_type=2)
    private = await create_board(admin, is_private=True, hidden_type=0)
    admin_me = (await admin.get("/users/me")).json()  # admins post in a private board as its members
    join = {"member_changes": {admin_me["msid"]: True}}
    assert (await admin.put(f"/boards/{hidden['board_id']}/members", json=join)).status_code == 200
    post = await create_post(admin, hidden["board_id"], author["msid"])

    listed = {b["board_id"] for b in (await member.get("/boards", params={"page_size": 50})).json()}
    assert hidden["board_id"] not in listed
    assert (await member.get(f"/boards/{hidden['board_id']}")).status_code == 404
    assert (await member.get(f"/posts/{post['post_id']}")).status_code == 404
    assert (await member.get(f"/boards/{private['board_id']}")).status_code == 200  # listed, but closed
    assert (await member.get(f"/boards/{private['board_id']}/posts")).status_code == 403
    hit = await member.get("/posts/search", params={"q": "content"})
    assert post["post_id"] not in {p["post_id"] for p in hit.json()}

    change = {"member_changes": {me["msid"]: True}}
    assert (await admin.put(f"/boards/{hidden['board_id']}/members", json=change)).status_code == 200
    assert (await member.get(f"/posts/{post['post_id']}")).status_code == 200
    assert (await member.post("/posts", json={"board_id": private["board_id"], "headline": "h", "content": "c",
                                             "authors": [author["msid"]]})).status_code == 403
    change = {"member_changes": {me["msid"]: False}}
    assert (await admin.put(f"/boards/{hidden['board_id']}/members", json=change)).status_code == 200
    assert (await member.get(f"/posts/{post['post_id']}")).status_code == 404


async def test_a_post_on_a_board_needing_approval_waits_for_a_moderator(forum_client: Forum, member_key: str,
                                                                        moderator_key: str,
                                                                        admin: httpx.AsyncClient) -> None:
    member, moderator = forum_client(member_key), forum_client(moderator_key)
    author = await create_user(admin)
    board = await create_board(admin, needs_approval=True)
    post = await create_post(member, board["board_id"], author["msid"])
    assert post["post_status"] == 4
    assert (await admin.get(f"/boards/{board['board_id']}")).json()["post_count"] == 0
    assert (await member.get(f"/boards/{board['board_id']}/posts")).json() == []
    assert (await member.get(f"/boards/{board['board_id']}/posts", params={"status": 4})).status_code == 403
    pending = await moderator.get(f"/boards/{board['board_id']}/posts", params={"status": 4})
    assert [p["post_id"] for p in pending.json()] == [post["post_id"]]
    comment = {"post_id": post["post_id"], "content": "too early", "author": author["msid"]}
    assert (await admin.post("/comments", json=comment)).status_code == 403

    assert (await member.post(f"/posts/{post['post_id']}/approve")).status_code == 403
    approved = await moderator.post(f"/posts/{post['post_id']}/approve")
    assert approved.status_code == 200 and approved.json()["post_status"] == 15
    assert (await moderator.post(f"/posts/{post['post_id']}/approve")).status_code == 409
    assert (await admin.get(f"/boards/{board['board_id']}")).json()["post_count"] == 1
    assert (await admin.post("/comments", json=comment)).status_code == 200

    other = await create_post(member, board["board_id"], author["msid"])
    rejected = await moderator.post(f"/posts/{other['post_id']}/reject")
    assert rejected.json()["post_status"] == 3
    assert (await admin.get(f"/boards/{board['board_id']}")).json()["post_count"] == 1


async def test_members_edit_only_what_their_api_user_wrote(forum_client: Forum, member_key: str,
                                                          admin: httpx.AsyncClient) -> None:
    member = forum_client(member_key)
    me = (await member.get("/users/me")).json()
    author = await create_user(admin)
    board = await create_board(admin)
    theirs = await create_post(admin, board["board_id"], author["msid"])
    mine = await create_post(member, board["board_id"], me["msid"])
    edit = {"board_id": board["board_id"], "headline": "edited", "content": "new", "authors": [me["msid"]]}
    assert (await member.put(f"/posts/{theirs['post_id']}", json=edit)).status_code == 403
    assert (await member.delete(f"/posts/{theirs['post_id']}")).status_code == 403
    edited = await member.put(f"/posts/{mine['post_id']}", json=edit)
    assert edited.status_code == 200 and edited.json()["headline"] == "edited" and "last_edited_at" in edited.json()
    assert (await member.delete(f"/posts/{mine['post_id']}")).status_code == 200
    assert (await member.get(f"/posts/{mine['post_id']}")).status_code == 404
    assert (await admin.get(f"/boards/{board['board_id']}")).json()["post_count"] == 1


async def test_only_owners_grant_or_remove_owner_and_admin_and_the_last_owner_stays(
        forum_client: Forum, container: Container, admin: httpx.AsyncClient) -> None:
    owner = forum_client(await make_key(container, OWNER))
    me_admin = (await admin.get("/users/me")).json()
    me_owner = (await owner.get("/users/me")).json()

    def role(msid: str, role_id: int, by: httpx.AsyncClient = admin) -> Any:
        return by.patch(f"/users/{msid}", json={"action": 101, "data": {"role_id": role_id}})

    assert (await role(me_admin["msid"], 1)).status_code == 403  # an admin cannot make itself owner
    assert (await role(me_owner["msid"], 4)).status_code == 403  # nor demote the owner
    user = await create_user(admin)
    assert (await role(user["msid"], 2)).status_code == 403
    assert (await role(user["msid"], 3)).status_code == 200  # moderators and members stay the admins' business
    assert (await role(user["msid"], 2, owner)).status_code == 200
    assert (await role(user["msid"], 4)).status_code == 403  # an admin cannot demote another admin
    assert (await role(user["msid"], 4, owner)).status_code == 200

    async with container.read() as conn:  # the owners of earlier tests go: this one is the last
        others = (await conn.execute(select(forum_profiles.c.user_id, forum_profiles.c.sid).where(
            forum_profiles.c.role_id == OWNER, forum_profiles.c.user_id != me_owner["user_id"]))).all()
    for user_id, sid in others:
        assert (await role(f"{user_id}.{sid}", 2, owner)).status_code == 200
    last = await role(me_owner["msid"], 2, owner)
    assert last.status_code == 409 and "last owner" in last.json()["message"]


async def test_listing_users_needs_the_list_permission(forum_client: Forum, member_key: str,
                                                      moderator_key: str) -> None:
    assert (await forum_client(member_key).get("/users")).status_code == 403
    assert (await forum_client(member_key).get("/users", params={"status": -3})).status_code == 403
    assert (await forum_client(moderator_key).get("/users")).status_code == 200


async def test_a_member_key_edits_what_it_wrote_for_others_but_cannot_reassign_it(
        forum_client: Forum, container: Container, admin: httpx.AsyncClient) -> None:
    writer = forum_client(await make_key(container, MEMBER))
    stranger = forum_client(await make_key(container, MEMBER))
    author, other = await create_user(admin), await create_user(admin)
    board = await create_board(admin)
    post = await create_post(writer, board["board_id"], author["msid"])  # written for one of its users
    edit = {"board_id": board["board_id"], "headline": "edited", "content": "new", "authors": [author["msid"]]}
    assert (await stranger.put(f"/posts/{post['post_id']}", json=edit)).status_code == 403
    assert (await writer.put(f"/posts/{post['post_id']}", json=edit)).status_code == 200
    reassigned = await writer.put(f"/posts/{post['post_id']}", json={**edit, "authors": [other["msid"]]})
    assert reassigned.status_code == 403
    assert (await admin.put(f"/posts/{post['post_id']}", json={**edit, "authors": [other["msid"]]})).status_code == 200
    comment = (await writer.post("/comments", json={"post_id": post["post_id"], "content": "c",
                                                    "author": author["msid"]})).json()
    assert (await stranger.delete(f"/comments/{comment['comment_id']}")).status_code == 403
    assert (await writer.delete(f"/comments/{comment['comment_id']}")).status_code == 200


async def test_an_active_post_moved_into_a_board_needing_approval_waits_for_approval_again(
        forum_client: Forum, member_key: str, admin: httpx.AsyncClient) -> None:
    member = forum_client(member_key)
    me = (await member.get("/users/me")).json()
    open_board, gated = await create_board(admin), await create_board(admin, needs_approval=True)
    post = await create_post(member, open_board["board_id"], me["msid"])
    moved = await member.put(f"/posts/{post['post_id']}", json={"board_id": gated["board_id"], "headline": "h",
                                                               "content": "c", "authors": [me["msid"]]})
    assert moved.status_code == 200 and moved.json()["post_status"] == 4
    assert (await admin.get(f"/boards/{open_board['board_id']}")).json()["post_count"] == 0
    assert (await admin.get(f"/boards/{gated['board_id']}")).json()["post_count"] == 0


async def test_admins_see_private_boards_listed_but_read_and_post_there_only_as_members(
        admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    board = await create_board(admin, is_private=True, hidden_type=0)
    me = (await admin.get("/users/me")).json()
    join = {"member_changes": {me["msid"]: True}}
    assert (await admin.put(f"/boards/{board['board_id']}/members", json=join)).status_code == 200
    post = await create_post(admin, board["board_id"], author["msid"], headline="secret plans")
    leave = {"member_changes": {me["msid"]: False}}
    assert (await admin.put(f"/boards/{board['board_id']}/members", json=leave)).status_code == 200

    listed = {b["board_id"] for b in (await admin.get("/boards", params={"page_size": 50})).json()}
    assert board["board_id"] in listed  # admins manage every board
    assert (await admin.get(f"/boards/{board['board_id']}")).status_code == 200
    assert (await admin.get(f"/boards/{board['board_id']}/posts")).status_code == 403
    assert (await admin.get(f"/posts/{post['post_id']}")).status_code == 403
    hit = await admin.get("/posts/search", params={"q": "secret plans"})
    assert post["post_id"] not in {p["post_id"] for p in hit.json()}
    refused = await admin.post("/posts", json={"board_id": board["board_id"], "headline": "h", "content": "c",
                                               "authors": [author["msid"]]})
    assert refused.status_code == 403 and refused.json()["status"] == "FORBIDDEN"
    assert (await admin.put(f"/boards/{board['board_id']}/members", json=join)).status_code == 200
    assert (await admin.get(f"/posts/{post['post_id']}")).status_code == 200
    hit = await admin.get("/posts/search", params={"q": "secret plans"})
    assert post["post_id"] in {p["post_id"] for p in hit.json()}
