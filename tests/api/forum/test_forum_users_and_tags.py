"""Users (create, sso_id, update, list, roles) and tags (create, list, search, mapping)."""

from __future__ import annotations

import httpx

from tests.api.forum.conftest import create_board, create_post, create_user, unique


async def test_a_user_is_created_once_per_sso_id_and_maps_to_a_core_user(admin: httpx.AsyncClient) -> None:
    sso = unique("sso")
    body = {"first_name": "Grace", "last_name": "Hopper", "email": f"{sso}@example.com", "sso_id": sso}
    first = await admin.post("/users", json=body)
    again = await admin.post("/users", json=body)
    assert first.status_code == again.status_code == 200
    assert first.json()["msid"] == again.json()["msid"]
    user = first.json()
    assert user["msid"] == f"{user['user_id']}.{user['sid']}"
    assert (user["user_status"], user["role_id"], user["is_bot"], user["lang"], user["timezone"]) == (
        10, 4, False, "en", "UTC")


async def test_updating_a_user_sanitises_its_description(admin: httpx.AsyncClient) -> None:
    user = await create_user(admin)
    body = {"first_name": "Ada", "user_description": "<p onclick='x()'>Hi<script>bad()</script></p>",
            "social_media_links": {"Twitter": "https://twitter.com/ada"}, "banner": "https://img.example/b.png",
            "timezone": "Europe/London"}
    updated = (await admin.put(f"/users/{user['msid']}", json=body)).json()
    assert updated["user_description"] == "<p>Hi</p>"
    assert updated["social_media_links"] == {"Twitter": "https://twitter.com/ada"}
    assert updated["timezone"] == "Europe/London" and updated["last_name"] == "Lovelace"
    bad = await admin.put(f"/users/{user['msid']}", json={"first_name": "A", "timezone": "Mars/Olympus"})
    assert bad.status_code == 400


async def test_users_are_listed_by_status_and_sorted(admin: httpx.AsyncClient) -> None:
    waiting = [await create_user(admin, user_status=4, first_name=name) for name in ("Zed", "Amy")]
    by_name = await admin.get("/users", params={"status": 4, "sort_by": "name", "order": "asc", "page_size": 50})
    names = [u["first_name"] for u in by_name.json()]
    assert names == sorted(names, key=str.lower)
    assert {u["msid"] for u in waiting} <= {u["msid"] for u in by_name.json()}
    newest = (await admin.get("/users", params={"status": 4, "sort_by": "joined"})).json()[0]
    assert newest["msid"] == waiting[-1]["msid"] and "email" not in newest
    assert (await admin.get("/users", params={"sort_by": "age"})).status_code == 400


async def test_changing_a_role_with_action_101(admin: httpx.AsyncClient) -> None:
    user = await create_user(admin)
    changed = await admin.patch(f"/users/{user['msid']}", json={"action": 101, "data": {"role_id": 3}})
    assert changed.json()["role_id"] == 3
    assert (await admin.patch(f"/users/{user['msid']}", json={"action": 7, "data": {}})).status_code == 400
    assert (await admin.patch(f"/users/{user['msid']}", json={"action": 101, "data": {"role_id": 99}})
            ).status_code == 400
    roles = (await admin.get("/roles")).json()
    assert {r["role_name"] for r in roles} >= {"Admin", "Moderator", "Member"}


async def test_tags_are_hashtags_listed_searched_and_mapped(admin: httpx.AsyncClient) -> None:
    word = unique("Chief")
    tag = (await admin.post("/tags", json={"name": f"{word} Officer", "description": "d"})).json()
    assert tag["name"] == f"{word}officer".lower() and tag["display_name"] == f"{word} Officer"
    assert (tag["back_color"], tag["text_color"]) == ("#ffffff", "#330000")
    other = (await admin.post("/tags", json={"name": unique("other"), "back_color": "#000000"})).json()
    assert (await admin.post("/tags", json={"name": "x", "back_color": "red"})).status_code == 400

    listed = await admin.get("/tags", params={"ids": f"{other['tag_id']},{tag['tag_id']}", "sort_by": "id"})
    assert [t["tag_id"] for t in listed.json()] == sorted([tag["tag_id"], other["tag_id"]])
    assert "description" not in listed.json()[0]
    found = await admin.get("/tags/search", params={"q": word.lower()})
    assert [t["tag_id"] for t in found.json()] == [tag["tag_id"]]
    edited = await admin.put(f"/tags/{tag['tag_id']}", json={"name": f"{word} Director"})
    assert edited.json()["name"] == f"{word}director".lower() and "description" not in edited.json()

    author = await create_user(admin)
    post = await create_post(admin, (await create_board(admin))["board_id"], author["msid"])
    mapping = {"tag_id": tag["tag_id"], "ref_type": "POST", "ref_id": post["post_id"]}
    assert (await admin.post("/tags/mapping", json=mapping)).status_code == 200
    assert (await admin.post("/tags/mapping", json=mapping)).status_code == 200  # again: no duplicate
    await admin.post("/tags/mapping", json={"tag_id": other["tag_id"], "ref_type": "USER", "ref_id": author["msid"]})
    of_post = await admin.get("/tags/mapping", params={"ref_type": "POST", "ref_id": post["post_id"]})
    assert [t["tag_id"] for t in of_post.json()] == [tag["tag_id"]]
    of_user = await admin.get("/tags/mapping", params={"ref_type": "USER", "ref_id": author["msid"]})
    assert [t["tag_id"] for t in of_user.json()] == [other["tag_id"]]
    assert (await admin.delete("/tags/mapping", params=mapping)).status_code == 200
    assert (await admin.get("/tags/mapping", params={"ref_type": "POST", "ref_id": post["post_id"]})).json() == []
    missing = {"tag_id": tag["tag_id"], "ref_type": "POST", "ref_id": 999999999}
    assert (await admin.post("/tags/mapping", json=missing)).status_code == 404


async def test_posts_are_found_by_full_text_search(admin: httpx.AsyncClient) -> None:
    word = unique("zebra")
    author = await create_user(admin)
    board = await create_board(admin)
    post = await create_post(admin, board["board_id"], author["msid"], content=f"<p>the {word} crossed</p>")
    await create_post(admin, board["board_id"], author["msid"], content="<p>nothing to see</p>")
    found = await admin.get("/posts/search", params={"q": f"{word} crossed"})
    assert [p["post_id"] for p in found.json()] == [post["post_id"]] and found.headers["has_more"] == "0"
    await admin.delete(f"/posts/{post['post_id']}")
    assert (await admin.get("/posts/search", params={"q": word})).json() == []


async def test_boards_are_edited_reordered_and_deleted(admin: httpx.AsyncClient) -> None:
    one, two = await create_board(admin), await create_board(admin, icon="https://img.example/i.png")
    assert two["display_order"] > one["display_order"] and "about" not in one
    order = {str(one["board_id"]): 2, str(two["board_id"]): 1}
    assert (await admin.patch("/boards/reorder", json={"display_order": order})).json() == {"message": "OK"}
    assert (await admin.get(f"/boards/{two['board_id']}")).json()["display_order"] == 1
    author = await create_user(admin)
    post = await create_post(admin, one["board_id"], author["msid"])
    edit = {"board_name": "renamed", "about": "all about it", "is_private": False, "hidden_type": 1,
            "permission_for": 5, "needs_approval": True, "pinned_posts": [post["post_id"]]}
    edited = (await admin.put(f"/boards/{one['board_id']}", json=edit)).json()
    assert (edited["board_name"], edited["pinned_posts"], edited["hidden_type"]) == ("renamed", [post["post_id"]], 1)
    bad_pin = {**edit, "pinned_posts": [999999999]}
    assert (await admin.put(f"/boards/{one['board_id']}", json=bad_pin)).status_code == 400
    assert (await admin.delete(f"/boards/{one['board_id']}")).status_code == 200
    assert (await admin.get(f"/boards/{one['board_id']}")).status_code == 404
