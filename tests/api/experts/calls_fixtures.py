"""Helpers of the calls and needs HTTP tests: members with an ``oauth_token`` (issued directly, the
OAuth flow is tested elsewhere) and an optional hourly rate, and their HTTP calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.core.calls.factories import make_users, set_rate
from townhall.container import Container
from townhall.core.accounts.models import User
from townhall.core.experts import tokens

API = "/experts/v1"


@dataclass
class Caller:
    user: User
    token: str
    http: httpx.AsyncClient

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(f"{API}{path}", headers={**self.auth, **kw.pop("headers", {})}, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.post(f"{API}{path}", headers={**self.auth, **kw.pop("headers", {})}, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.delete(f"{API}{path}", headers={**self.auth, **kw.pop("headers", {})}, **kw)

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        response = await getattr(self, method)(path, **kw)
        assert response.status_code == status, response.text
        return response.json()


async def caller(container: Container, http: httpx.AsyncClient, name: str, *, rate_cents: int | None = None) -> Caller:
    (user,) = await make_users(container, name)
    if rate_cents is not None:
        await set_rate(container, user, rate_cents)
    async with container.uow() as uow:
        token = await tokens.issue(uow, user.id)
    return Caller(user, token, http)


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    return response.status_code, body["error"]
