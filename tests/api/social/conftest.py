"""Fixtures of the social surface tests (profiles, graph, clubs, rooms...): users signed in through the
real phone flow."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.phones import last_code, random_address, random_phone
from townhall.app import create_app
from townhall.config import Settings, SocialSettings
from townhall.container import Container

API = "/social/api"


def http_client(app: FastAPI, address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address or random_address(), 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://townhall.test")


@dataclass
class Member:
    """A signed-in user and an HTTP client speaking for them."""

    user_id: int
    phone: str
    auth_token: str
    access_token: str
    refresh_token: str
    http: httpx.AsyncClient
    signin: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.auth_token}", "CH-UserID": str(self.user_id)}

    async def call(self, endpoint: str, body: dict[str, Any] | None = None, *, method: str = "POST",
                   query: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.request(method, f"{API}/{endpoint}", json=body, params=query,
                                       headers={**self.headers, **(headers or {})})

    async def ok(self, endpoint: str, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.call(endpoint, body, **kwargs)
        assert response.status_code == 200, response.text
        data = response.json()
        assert data.get("success") is True, data
        return data  # type: ignore[no-any-return]


async def sign_in(app: FastAPI, container: Container, phone: str | None = None, *,
                  address: str | None = None) -> Member:
    phone = phone or random_phone()
    http = http_client(app, address)
    started = await http.post(f"{API}/start_phone_number_auth", json={"phone_number": phone})
    assert started.status_code == 200 and started.json()["success"] is True, started.text
    code = await last_code(container, phone)
    done = await http.post(f"{API}/complete_phone_number_auth", json={"phone_number": phone,
                                                                      "verification_code": code})
    assert done.status_code == 200, done.text
    body = done.json()
    return Member(user_id=body["user_profile"]["user_id"], phone=phone, auth_token=body["auth_token"],
                  access_token=body["access_token"], refresh_token=body["refresh_token"], http=http, signin=body)


SignIn = Callable[..., Awaitable[Member]]


@pytest.fixture
async def new_member(app: FastAPI, container: Container) -> AsyncIterator[SignIn]:
    """``await new_member(username=...)``: a freshly signed-in (and onboarded) user."""
    made: list[Member] = []

    async def make(username: str | None = None, name: str | None = None, **kwargs: Any) -> Member:
        member = await sign_in(app, container, **kwargs)
        made.append(member)
        if name:
            await member.ok("update_name", {"name": name})
        if username:
            await member.ok("update_username", {"username": username})
        return member

    yield make
    for member in made:
        await member.http.aclose()


def unique_username(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(5)}"[:16]


@pytest.fixture(scope="module")
async def waitlist_app(settings: Settings, migrated_db_url: str) -> AsyncIterator[tuple[FastAPI, Container]]:
    """The app with the ``waitlist`` sign-up policy, on the same database."""
    waiting = settings.model_copy(update={"social": SocialSettings(signup_policy="waitlist")})
    built = Container.build(waiting)
    await built.start()
    application = create_app(waiting, built)
    try:
        async with application.router.lifespan_context(application):
            yield application, built
    finally:
        await built.close()


@dataclass
class Person:
    """A signed-in user and an HTTP client speaking for them."""

    user_id: int
    phone: str
    auth_token: str
    http: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.auth_token}", "CH-UserID": str(self.user_id)}

    async def call(self, endpoint: str, body: dict[str, Any] | None = None, *, method: str = "POST",
                   query: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.request(method, f"{API}/{endpoint}", json=body, params=query, headers=self.headers)

    async def ok(self, endpoint: str, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.call(endpoint, body, **kwargs)
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["success"] is True, data
        return data  # type: ignore[no-any-return]

    async def fails(self, endpoint: str, body: dict[str, Any] | None = None, status: int = 400,
                    **kwargs: Any) -> str:
        """The error message of a refused call (the surface's ``{success: false}`` shape)."""
        response = await self.call(endpoint, body, **kwargs)
        assert response.status_code == status, response.text
        data = response.json()
        assert data["success"] is False and data["error_message"], data
        return data["error_message"]  # type: ignore[no-any-return]


async def sign_in_person(app: FastAPI, container: Container, name: str) -> Person:
    """A new user named ``name``, signed in through the phone flow (the clubs and rooms tests)."""
    phone = random_phone()
    http = http_client(app)
    started = await http.post(f"{API}/start_phone_number_auth", json={"phone_number": phone})
    assert started.status_code == 200 and started.json()["success"] is True, started.text
    code = await last_code(container, phone)
    done = await http.post(f"{API}/complete_phone_number_auth", json={"phone_number": phone,
                                                                      "verification_code": code})
    assert done.status_code == 200 and done.json().get("auth_token"), done.text
    body = done.json()
    person = Person(user_id=body["user_profile"]["user_id"], phone=phone, auth_token=body["auth_token"], http=http)
    await person.ok("update_name", {"name": name})
    return person


People = Callable[..., Awaitable[list[Person]]]


@pytest.fixture
async def people(app: FastAPI, container: Container) -> AsyncIterator[People]:
    """``ada, bob = await people("ada", "bob")``: freshly signed-in users."""
    made: list[Person] = []

    async def make(*names: str) -> list[Person]:
        out = [await sign_in_person(app, container, name) for name in names]
        made.extend(out)
        return out

    yield make
    for person in made:
        await person.http.aclose()


@pytest.fixture
def signer() -> Callable[[FastAPI, Container, str], Awaitable[Person]]:
    """``await signer(app, container, name)``: sign in on another app (e.g. ``waitlist_app``)."""
    return sign_in_person
