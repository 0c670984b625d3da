"""Every request needs a valid API key; every error is habitate's {id, status, time, message}."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.api.forum.conftest import Forum, create_board, create_post, create_user
from townhall.container import Container
from townhall.core.forum import keys


def _is_error(response: httpx.Response, status: int, name: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"id", "status", "time", "message"}
    assert body["status"] == name and body["message"] and len(body["id"]) == 20
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$", body["time"])


def _forum_routes(app: FastAPI) -> list[tuple[str, str]]:
    forum = next(r.app for r in app.routes if getattr(r, "path", "") == "/forum")
    return [(method, re.sub(r"{\w+}", "1", route.path))
            for router in forum.state.routers for route in router.routes if isinstance(route, APIRoute)
            for method in route.methods]


@pytest.mark.parametrize("credentials", [None, ("sys", "wrong"), ("sys", ""), "Bearer x", "Basic !!!"])
async def test_no_endpoint_answers_without_a_valid_api_key(app: FastAPI, forum_client: Forum,
                                                           credentials: object) -> None:
    http = forum_client(None)
    routes = _forum_routes(app)
    assert len(routes) > 30
    for method, path in routes:
        headers = {}
        if isinstance(credentials, tuple):
            headers["Authorization"] = httpx.BasicAuth(*credentials)._auth_header  # type: ignore[attr-defined]
        elif isinstance(credentials, str):
            headers["Authorization"] = credentials
        response = await http.request(method, path.removeprefix("/api/v1"), headers=headers, json={})
        _is_error(response, 403, "FORBIDDEN")


async def test_a_revoked_key_is_refused(container: Container, forum_client: Forum) -> None:
    async with container.uow() as uow:
        key, info = await keys.do_create_key(uow, "short-lived")
    assert (await forum_client(key).get("/users/me")).status_code == 200
    async with container.uow() as uow:
        await keys.do_revoke_key(uow, info.id)
    _is_error(await forum_client(key).get("/users/me"), 403, "FORBIDDEN")


async def test_the_api_user_is_the_key_and_the_calling_system_is_only_for_audit(
        forum_client: Forum, admin_key: str) -> None:
    one = (await forum_client(admin_key, system="backend_app1").get("/users/me")).json()
    two = (await forum_client(admin_key, system="other").get("/users/me")).json()
    assert one == two and one["is_bot"] is True and one["role_id"] == 2


async def test_unknown_paths_wrong_methods_and_bad_bodies_answer_in_the_error_shape(
        admin: httpx.AsyncClient) -> None:
    _is_error(await admin.get("/nothing-here"), 404, "NOT_FOUND")
    _is_error(await admin.delete("/roles"), 405, "METHOD_NOT_ALLOWED")
    _is_error(await admin.post("/users/me"), 405, "METHOD_NOT_ALLOWED")
    _is_error(await admin.post("/boards", content=b"{not json", headers={"content-type": "application/json"}),
              400, "BAD_REQUEST")
    _is_error(await admin.post("/boards", json=[1, 2]), 400, "BAD_REQUEST")
    _is_error(await admin.post("/boards", json={"board_name": "x", "is_private": "maybe", "hidden_type": 0,
                                                "permission_for": 10, "needs_approval": False}), 400, "BAD_REQUEST")
    _is_error(await admin.post("/boards", json={"board_name": "x", "is_private": False, "hidden_type": 7,
                                                "permission_for": 10, "needs_approval": False}), 400, "BAD_REQUEST")
    _is_error(await admin.get("/boards/abc"), 400, "BAD_REQUEST")
    _is_error(await admin.get("/boards/99999999999999999999999"), 400, "BAD_REQUEST")
    _is_error(await admin.get("/boards/999999999"), 404, "NOT_FOUND")
    _is_error(await admin.get("/posts/999999999"), 404, "NOT_FOUND")
    _is_error(await admin.get("/users/1.nosuchsid"), 404, "NOT_FOUND")
    _is_error(await admin.get("/users/not-an-msid"), 404, "NOT_FOUND")
    _is_error(await admin.post("/posts", json={"board_id": "x", "headline": "h", "content": "c",
                                               "authors": ["1.x"]}), 400, "BAD_REQUEST")
    _is_error(await admin.post("/tags", content=b"x" * 2_000_000), 400, "BAD_REQUEST")


async def test_lists_page_with_a_has_more_header(admin: httpx.AsyncClient) -> None:
    author = await create_user(admin)
    board = await create_board(admin)
    for i in range(3):
        await create_post(admin, board["board_id"], author["msid"], headline=f"post {i}")
    first = await admin.get(f"/boards/{board['board_id']}/posts", params={"page_size": 2})
    assert first.headers["has_more"] == "1" and len(first.json()) == 2
    second = await admin.get(f"/boards/{board['board_id']}/posts", params={"page_size": 2, "page": 2})
    assert second.headers["has_more"] == "0" and len(second.json()) == 1
    assert {p["post_id"] for p in first.json()}.isdisjoint(p["post_id"] for p in second.json())
    _is_error(await admin.get("/boards", params={"page_size": 51}), 400, "BAD_REQUEST")
    _is_error(await admin.get("/boards", params={"page": 0}), 400, "BAD_REQUEST")
    default = await admin.get("/roles")
    assert default.headers["has_more"] == "0" and len(default.json()) == 4


async def test_duplicate_emails_and_names_conflict(admin: httpx.AsyncClient) -> None:
    user = await create_user(admin)
    again = await admin.post("/users", json={"first_name": "X", "email": user["email"].upper()})
    _is_error(again, 409, "CONFLICT")
    await admin.post("/tags", json={"name": "Architect"})
    _is_error(await admin.post("/tags", json={"name": "#architect"}), 409, "CONFLICT")


async def test_an_api_key_over_its_rate_limit_gets_429(app: FastAPI, container: Container,
                                                       forum_client: Forum) -> None:
    forum = next(r.app for r in app.routes if getattr(r, "path", "") == "/forum")
    limiter = forum.state.rate_limiter
    async with container.uow() as uow:
        key, _ = await keys.do_create_key(uow, "busy")
    http = forum_client(key)
    saved = limiter.per_minute
    limiter.per_minute = 3
    try:
        answers = [await http.get("/roles") for _ in range(5)]
    finally:
        limiter.per_minute = saved
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    _is_error(answers[-1], 429, "TOO_MANY_REQUESTS")
