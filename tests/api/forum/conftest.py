"""Fixtures of the forum surface tests: API keys of each role and clients that use them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from townhall.container import Container
from townhall.core.forum import keys
from townhall.core.forum.models import ADMIN, MEMBER, MODERATOR

Forum = Callable[..., httpx.AsyncClient]


async def make_key(container: Container, role_id: int = ADMIN) -> str:
    async with container.uow() as uow:
        key, _ = await keys.do_create_key(uow, f"tests-{role_id}", role_id)
    return key


@pytest.fixture(scope="session")
async def admin_key(container: Container) -> str:
    return await make_key(container, ADMIN)


@pytest.fixture(scope="session")
async def moderator_key(container: Container) -> str:
    return await make_key(container, MODERATOR)


@pytest.fixture(scope="session")
async def member_key(container: Container) -> str:
    return await make_key(container, MEMBER)


@pytest.fixture(autouse=True)
def no_rate_limit(app: FastAPI) -> None:
    """These tests send many requests with one key: lift its limit (one test lowers it again)."""
    forum = next(r.app for r in app.routes if getattr(r, "path", "") == "/forum")
    if forum.state.rate_limiter is not None:
        forum.state.rate_limiter.per_minute = 10**9


@pytest.fixture(autouse=True)
def private_webhook_targets(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook receivers of these tests listen on loopback: allow such targets for the test
    (restored after it; the SSRF tests turn it off again)."""
    monkeypatch.setattr(container.settings.forum, "allow_private_webhook_targets", True)


@pytest.fixture
async def forum_client(app: FastAPI) -> AsyncIterator[Forum]:
    """``forum_client(key)``: an httpx client on /forum/api/v1 with Basic auth (None: no auth)."""
    opened: list[httpx.AsyncClient] = []

    def make(key: str | None, system: str = "tests") -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://townhall.test/forum/api/v1",
                                 auth=(system, key) if key is not None else None)
        opened.append(http)
        return http

    yield make
    for http in opened:
        await http.aclose()


@pytest.fixture
async def admin(forum_client: Forum, admin_key: str) -> httpx.AsyncClient:
    return forum_client(admin_key)


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def create_user(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    name = unique("user")
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"{name}@example.com", "username": name, **fields}
    response = await http.post("/users", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_board(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"board_name": unique("board "), "is_private": False, "hidden_type": 0, "permission_for": 10,
            "needs_approval": False, **fields}
    response = await http.post("/boards", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_post(http: httpx.AsyncClient, board_id: int, author: str, **fields: Any) -> dict[str, Any]:
    body = {"board_id": board_id, "headline": "A headline", "content": "<p>Some <b>content</b></p>",
            "authors": [author], **fields}
    response = await http.post("/posts", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
