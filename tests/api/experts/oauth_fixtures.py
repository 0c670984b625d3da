"""Helpers of the OAuth2 provider tests: members, applications, and a browser that walks the
authorization pages (sign in by text message or session token, approve or deny)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.phones import last_code, random_address, random_phone
from townhall.container import Container
from townhall.core.accounts import sessions, signin
from townhall.core.experts import oauth, tokens

REDIRECT_URI = "https://client.example/auth/clarity/callback"
AUTHORIZE = "/experts/oauth/authorize"
TOKEN = "/experts/oauth/token"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass
class Member:
    user_id: int
    phone: str
    oauth_token: str  # a token townhall issued itself (no application)


async def make_member(container: Container, phone: str | None = None) -> Member:
    phone = phone or random_phone()
    async with container.uow() as uow:
        account = await signin.do_open_account(uow, phone, waitlist=False, invites_per_user=0)
        token = await tokens.issue(uow, account.user_id)
    return Member(account.user_id, phone, token)


async def social_session(container: Container, user_id: int) -> str:
    """A social surface ``auth_token`` for the member."""
    async with container.uow() as uow:
        made = await sessions.do_create_session(uow, user_id, secret=container.credentials.social_jwt_secret,
                                                access_ttl=3600, refresh_ttl=3600)
    return made.auth_token


async def register_app(container: Container, *, owner_id: int | None = None, name: str = "Test app",
                       redirect_uri: str = REDIRECT_URI) -> oauth.Credentials:
    async with container.uow() as uow:
        return await oauth.do_register_application(uow, name=name, redirect_uri=redirect_uri, owner_id=owner_id)


def hidden_fields(page: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to ``action`` on an HTML page."""
    match = re.search(rf'<form method="post" action="{re.escape(action)}">(.*?)</form>', page, re.S)
    assert match, f"no form to {action} in:\n{page}"
    return {html.unescape(name): html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', match.group(1))}


def redirect_params(response: httpx.Response) -> dict[str, str]:
    """The query parameters of a redirect to the client (one value each)."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


class Browser:
    """A member's browser on the authorization pages (cookies kept between steps)."""

    def __init__(self, http: httpx.AsyncClient, container: Container) -> None:
        self.http = http
        self.container = container

    async def open(self, query: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(f"{AUTHORIZE}?{urlencode(query)}", headers=headers)

    async def submit(self, page: httpx.Response, action: str, headers: dict[str, str] | None = None,
                     **fields: str) -> httpx.Response:
        data = {**hidden_fields(page.text, action), **fields}
        return await self.http.post(f"/experts/oauth/{action}", data=data, headers=headers)

    async def sign_in_by_text(self, query: dict[str, str], phone: str) -> httpx.Response:
        """From the sign-in page to the approval page."""
        page = await self.open(query)
        assert page.status_code == 200 and 'action="signin/phone"' in page.text, page.text
        asked = await self.submit(page, "signin/phone", phone=phone)
        assert asked.status_code == 200 and 'action="signin/code"' in asked.text, asked.text
        signed = await self.submit(asked, "signin/code", code=await last_code(self.container, phone))
        assert signed.status_code == 303, signed.text
        approval = await self.http.get(signed.headers["location"])
        assert approval.status_code == 200 and 'action="approve"' in approval.text, approval.text
        return approval

    async def authorize(self, query: dict[str, str], phone: str, decision: str = "approve") -> dict[str, str]:
        """Sign in by text (unless signed in already) and decide: the parameters the client
        receives at its redirect URI."""
        approval = await self.open(query)
        if 'action="approve"' not in approval.text:
            approval = await self.sign_in_by_text(query, phone)
        return redirect_params(await self.submit(approval, "approve", decision=decision))


def authorize_query(app: oauth.Credentials | str, **extra: Any) -> dict[str, str]:
    """An authorization request of the application (or client_id)."""
    client_id = app if isinstance(app, str) else app.application.client_id
    return {"client_id": client_id, "response_type": "code", **extra}


def basic(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic client authentication (client_secret_basic)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def http_client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(random_address(), 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://townhall.test")
