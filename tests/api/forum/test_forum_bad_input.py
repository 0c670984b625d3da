"""Bad input never ends in a 500: every forum endpoint answers malformed requests, huge ids and
strange strings with habitate's error JSON, and changes nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.api.forum.conftest import create_board, create_post, create_user, unique

BAD_BODIES: list[object] = [
    b"{not json", b"[1, 2]", b'"text"', b"null", {}, {"board_id": 2**70, "headline": "h", "content": "c",
                                                      "authors": ["1.x"]},
    {"board_name": "\x00", "is_private": False, "hidden_type": 0, "permission_for": 10, "needs_approval": False},
    {"display_order": {"1": 2**40}}, {"display_order": {str(2**70): 1}}, {"member_changes": {"x": True}},
    {"first_name": "A\x00", "email": "a\x00@example.com"}, {"action": 101, "data": {"role_id": "2"}},
    {"post_id": 2**64, "content": "c", "author": "1.x"}, {"comment_id": "9" * 30, "content": "c", "author": "x"},
    {"ref_type": "POST", "ref_id": 2**63, "slot": "s1", "user": "1.x"},
    {"tag_id": -1, "ref_type": "USER", "ref_id": "1.\x00"}, {"name": "#" * 500}, {"name": "ok", "image": "x"},
    {"target_url": "http://\x00", "events": ["post.created"]}, {"content": "\x00" * 10},
    {"board_id": "1", "headline": "x" * 10_000, "content": "<p></p>", "authors": []},
]
QUERIES = [{"page": "x"}, {"page_size": 10_000}, {"q": "\x00"}, {"q": "%_\\"}, {"ids": "1,,x"},
           {"ref_type": "POST", "ref_id": "99999999999999999999"}, {"ref_type": "USER", "ref_id": "2.\x00"},
           {"status": 2**40}, {"sort_by": "name", "order": "sideways"}, {"tag_id": 2**70, "ref_type": "X"}]


def _routes(app: FastAPI, values: dict[str, str]) -> list[tuple[str, str]]:
    forum = next(r.app for r in app.routes if getattr(r, "path", "") == "/forum")
    return [(method, re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "1"), route.path).removeprefix("/api/v1"))
            for router in forum.state.routers for route in router.routes if isinstance(route, APIRoute)
            for method in route.methods]


@pytest.mark.parametrize("ids", ["existing", "huge", "strange"])
async def test_no_forum_endpoint_answers_bad_input_with_a_server_error(app: FastAPI, admin: httpx.AsyncClient,
                                                                       ids: str) -> None:
    if ids == "existing":
        user = await create_user(admin)
        board = await create_board(admin)
        post = await create_post(admin, board["board_id"], user["msid"])
        values = {"board_id": str(board["board_id"]), "post_id": str(post["post_id"]), "msid": user["msid"]}
    elif ids == "huge":
        values = {name: "9" * 25 for name in ("board_id", "post_id", "comment_id", "reply_id", "tag_id",
                                              "subscription_id", "msid")}
    else:
        values = {name: "%00" for name in ("board_id", "post_id", "comment_id", "reply_id", "tag_id",
                                           "subscription_id", "msid")}
    routes = _routes(app, values)
    assert len(routes) > 30
    for method, path in routes:
        requests = [{"params": q} for q in QUERIES]
        if method in ("POST", "PUT", "PATCH"):
            requests += [{"content": b} if isinstance(b, bytes) else {"json": b} for b in BAD_BODIES]
        for kwargs in requests:
            response = await admin.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code < 500, (method, path, kwargs, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"id", "status", "time", "message"}, (method, path, response.text)


async def test_headlines_board_texts_and_tag_texts_are_stored_as_plain_text(admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    board = await create_board(admin, about='<b>About</b> <img src=x onerror="alert(1)"> &lt;script&gt;')
    assert board["about"] == "About &lt;script&gt;"
    post = await create_post(admin, board["board_id"], author["msid"], headline="<i>Hi</i> & <script>x</script>bye")
    assert post["headline"] == "Hi &amp; bye"
    tag = (await admin.post("/tags", json={"name": "plain" + unique(), "description": "<a href='javascript:x'>d</a>",
                                           "og_title": "<b>t</b>", "og_description": "<p>o</p>"})).json()
    assert (tag["description"], tag["og_title"], tag["og_description"]) == ("d", "t", "o")


async def test_icons_and_og_images_must_be_http_urls(admin: httpx.AsyncClient) -> None:
    body = {"board_name": unique("b"), "is_private": False, "hidden_type": 0, "permission_for": 10,
            "needs_approval": False}
    for bad in ("javascript:alert(1)", "data:image/png;base64,xx", "//evil.example/x", "https://"):
        response = await admin.post("/boards", json={**body, "icon": bad})
        assert response.status_code == 400, bad
        response = await admin.post("/tags", json={"name": unique("t"), "og_image": bad})
        assert response.status_code == 400, bad
    assert (await admin.post("/boards", json={**body, "icon": "https://example.com/i.png"})).status_code == 200


async def test_values_too_long_once_normalised_are_refused_not_500(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/tags", json={"name": "İ" * 100})).status_code == 400  # 200 characters lowercased
    assert (await admin.post("/tags", json={"name": unique("t"), "og_title": "x" * 256})).status_code == 400
    assert (await admin.post("/tags", json={"name": unique("t"), "og_title": "&" * 100})).status_code == 400
    email = "a" * 60 + "@" + "İ" * 200 + ".com"
    response = await admin.post("/users", json={"first_name": "x", "email": email})
    assert response.status_code == 400
    board = await create_board(admin)
    author = await create_user(admin)
    response = await admin.post("/posts", json={"board_id": board["board_id"], "headline": "<" * 200,
                                                "content": "x", "authors": [author["msid"]]})
    assert response.status_code == 400
