"""Fixtures of the experts surface's member, search, organization and message tests: members (core
users with a phone identity and a social profile) holding an ``oauth_token`` issued directly with
``tokens.issue`` (the OAuth flow has its own tests), and an HTTP client speaking for each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.core.experts.factories import make_member
from townhall.container import Container
from townhall.core.experts import tokens

API = "/experts/v1"


@dataclass
class ApiMember:
    """A member and the calls they make on the experts API (``Authorization: Bearer``)."""

    id: int
    username: str
    token: str
    http: httpx.AsyncClient

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(method, f"{API}{path}", headers={**self.auth, **kw.pop("headers", {})}, **kw)

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        response = await self.call(method, path, **kw)
        assert response.status_code == status, response.text
        return response.json()


NewMember = Callable[..., Awaitable[ApiMember]]


@pytest.fixture
async def new_member(container: Container, client: httpx.AsyncClient) -> AsyncIterator[NewMember]:
    """``await new_member(name="Ada Lovelace", bio=..., expertise=..., hourly_rate="20")``: a fresh
    member (unique username unless given) with a token, calling through ``client``."""

    async def make(**fields: Any) -> ApiMember:
        user_id, username = await make_member(container, **fields)
        async with container.uow() as uow:
            token = await tokens.issue(uow, user_id)
        return ApiMember(user_id, username, token, client)

    yield make


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(status, error code) of an error answer, checking it is the surface's error JSON."""
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    return response.status_code, body["error"]
