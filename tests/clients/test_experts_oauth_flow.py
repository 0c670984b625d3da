"""OAuth clients against a real ``townhall serve``: Authlib's httpx OAuth2 client (RFC 6749 with
PKCE S256 and HTTP Basic client authentication) and a plain Clarity client (draft 10: the code
redeemed with ``POST /oauth/authorize``), each completing authorize → sign in by text message →
approve → code → token → ``GET /experts/v1/me`` (and, for Authlib's, revocation). A browser (httpx, cookies kept) plays the member."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.api.experts.oauth_fixtures import REDIRECT_URI, hidden_fields, last_code, random_phone, register_app
from tests.conftest import Server
from townhall.container import Container
from townhall.core.accounts import signin


@pytest.fixture
async def browser(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, follow_redirects=False, timeout=30) as http:
        yield http


async def approve_as_new_member(browser: httpx.AsyncClient, container: Container, authorization_url: str,
                                phone: str) -> str:
    """The member's side: sign in with a texted code and approve; the URL the browser is sent to."""
    page = await browser.get(authorization_url)
    assert page.status_code == 200 and 'action="signin/phone"' in page.text, page.text
    asked = await browser.post("/experts/oauth/signin/phone", data={**hidden_fields(page.text, "signin/phone"),
                                                                    "phone": phone})
    assert asked.status_code == 200, asked.text
    signed = await browser.post("/experts/oauth/signin/code", data={**hidden_fields(asked.text, "signin/code"),
                                                                    "code": await last_code(container, phone)})
    assert signed.status_code == 303, signed.text
    approval = await browser.get(signed.headers["location"])
    assert 'action="approve"' in approval.text, approval.text
    decided = await browser.post("/experts/oauth/approve", data={**hidden_fields(approval.text, "approve"),
                                                                 "decision": "approve"})
    assert decided.status_code == 302, decided.text
    return decided.headers["location"]


async def user_of(container: Container, phone: str) -> int | None:
    async with container.read() as conn:
        return await signin.user_of_phone(conn, phone)


async def test_authlibs_oauth2_client_completes_the_code_flow_with_pkce(
        server: Server, container: Container, browser: httpx.AsyncClient) -> None:
    app = await register_app(container, name="Authlib client")
    phone = random_phone()
    async with AsyncOAuth2Client(app.application.client_id, app.client_secret, redirect_uri=REDIRECT_URI,
                                 code_challenge_method="S256") as client:
        verifier = generate_token(48)
        url, state = client.create_authorization_url(f"{server.base_url}/experts/oauth/authorize",
                                                     code_verifier=verifier, state=generate_token(16))
        callback = await approve_as_new_member(browser, container, url, phone)
        assert callback.startswith(REDIRECT_URI) and f"state={state}" in callback
        token = await client.fetch_token(f"{server.base_url}/experts/oauth/token", authorization_response=callback,
                                         code_verifier=verifier, state=state)
        assert token["token_type"] == "Bearer" and token["access_token"]
        me = await client.get(f"{server.base_url}/experts/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == await user_of(container, phone)
        revoked = await client.revoke_token(f"{server.base_url}/experts/oauth/revoke", token=token["access_token"],
                                            token_type_hint="access_token")
        assert revoked.status_code == 200
        assert (await client.get(f"{server.base_url}/experts/v1/me")).status_code == 401


async def test_a_clarity_client_redeems_the_code_at_oauth_authorize_and_calls_with_oauth_token(
        server: Server, container: Container, browser: httpx.AsyncClient) -> None:
    app = await register_app(container, name="Clarity client")
    phone = random_phone()
    start = httpx.URL(f"{server.base_url}/experts/oauth/authorize",
                      params={"client_id": app.application.client_id, "response_type": "code"})
    callback = httpx.URL(await approve_as_new_member(browser, container, str(start), phone))
    code = callback.params["code"]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as clarity:
        redeemed = await clarity.post("/experts/oauth/authorize", params={
            "client_id": app.application.client_id, "client_secret": app.client_secret, "code": code,
            "grant_type": "authorization_code"})
        assert redeemed.status_code == 200, redeemed.text
        oauth_token = redeemed.json()["oauth_token"]
        me = await clarity.get("/experts/v1/me", params={"oauth_token": oauth_token})
        assert me.status_code == 200, me.text
        assert me.json()["id"] == await user_of(container, phone)
        replay = await clarity.post("/experts/oauth/authorize", params={
            "client_id": app.application.client_id, "client_secret": app.client_secret, "code": code,
            "grant_type": "authorization_code"})
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert (await clarity.get("/experts/v1/me", params={"oauth_token": oauth_token})).status_code == 401
