"""The OAuth2 provider over HTTP: the authorization pages (sign-in, approval, CSRF), Clarity's
token request (POST /oauth/authorize) and the RFC 6749 token endpoint (POST /oauth/token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.api.experts.oauth_fixtures import (
    AUTHORIZE,
    REDIRECT_URI,
    TOKEN,
    Browser,
    authorize_query,
    basic,
    hidden_fields,
    http_client,
    make_member,
    pkce_pair,
    random_phone,
    redirect_params,
    register_app,
    social_session,
)
from townhall.container import Container
from townhall.core.clock import now
from townhall.core.experts.oauth_tables import oauth_codes

ME = "/experts/v1/me"


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


@pytest.fixture
def browser(http: httpx.AsyncClient, container: Container) -> Browser:
    return Browser(http, container)


async def approve_with_session_token(browser: Browser, container: Container, query: dict[str, str]) -> str:
    """A member already signed in to the social app approves: the code the client receives."""
    member = await make_member(container)
    headers = {"Authorization": f"Token {await social_session(container, member.user_id)}"}
    page = await browser.open(query, headers=headers)
    assert page.status_code == 200 and 'action="approve"' in page.text, page.text
    got = redirect_params(await browser.submit(page, "approve", headers=headers, decision="approve"))
    return got["code"]


async def test_a_member_signs_in_by_text_approves_and_the_code_buys_an_oauth_token(
        browser: Browser, container: Container, http: httpx.AsyncClient) -> None:
    app = await register_app(container, name="Calendar <sync>")
    phone = random_phone()
    page = await browser.open(authorize_query(app, state="xyz 1"))
    assert "Calendar &lt;sync&gt;" in page.text and page.headers["x-frame-options"] == "DENY"
    got = await browser.authorize(authorize_query(app, state="xyz 1"), phone)
    assert got["state"] == "xyz 1" and got["code"]
    answer = await http.post(AUTHORIZE, params={"client_id": app.application.client_id,
                                                "client_secret": app.client_secret, "code": got["code"],
                                                "grant_type": "authorization_code"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["oauth_token"] == body["access_token"] and body["token_type"] == "Bearer"
    assert answer.headers["cache-control"] == "no-store"
    mine = await http.get(ME, params={"oauth_token": body["oauth_token"]})
    assert mine.status_code == 200
    bearer = await http.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert bearer.status_code == 200 and bearer.json()["id"] == mine.json()["id"]


async def test_the_same_number_signs_in_to_the_same_member_the_social_app_knows(
        browser: Browser, container: Container, http: httpx.AsyncClient) -> None:
    member = await make_member(container)
    app = await register_app(container)
    got = await browser.authorize(authorize_query(app), member.phone)
    token = (await http.post(TOKEN, data={"grant_type": "authorization_code", "code": got["code"]},
                             headers=basic(app.application.client_id, app.client_secret))).json()["access_token"]
    me = await http.get(ME, params={"oauth_token": token})
    assert me.status_code == 200 and me.json()["id"] == member.user_id


async def test_the_token_endpoint_takes_http_basic_and_checks_the_pkce_verifier(
        browser: Browser, container: Container, http: httpx.AsyncClient) -> None:
    app = await register_app(container)
    verifier, challenge = pkce_pair()
    query = authorize_query(app, code_challenge=challenge, code_challenge_method="S256", redirect_uri=REDIRECT_URI)
    code = await approve_with_session_token(browser, container, query)
    auth = basic(app.application.client_id, app.client_secret)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    wrong = await http.post(TOKEN, data={**form, "code_verifier": pkce_pair()[0]}, headers=auth)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = await http.post(TOKEN, data=form, headers=auth)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    right = await http.post(TOKEN, data={**form, "code_verifier": verifier}, headers=auth)
    assert right.status_code == 200, right.text
    assert right.headers["cache-control"] == "no-store" and right.headers["pragma"] == "no-cache"
    assert (await http.get(ME, params={"oauth_token": right.json()["access_token"]})).status_code == 200


async def test_a_code_is_single_use_and_presenting_it_again_revokes_its_token(
        browser: Browser, container: Container, http: httpx.AsyncClient) -> None:
    app = await register_app(container)
    code = await approve_with_session_token(browser, container, authorize_query(app))
    form = {"grant_type": "authorization_code", "code": code, "client_id": app.application.client_id,
            "client_secret": app.client_secret}
    first = await http.post(TOKEN, data=form)
    token = first.json()["access_token"]
    assert (await http.get(ME, params={"oauth_token": token})).status_code == 200
    again = await http.post(TOKEN, data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    refused = await http.get(ME, params={"oauth_token": token})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


async def test_a_code_is_bound_to_its_client_its_redirect_uri_and_its_lifetime(
        browser: Browser, container: Container, http: httpx.AsyncClient) -> None:
    app, other = await register_app(container), await register_app(container)
    code = await approve_with_session_token(browser, container, authorize_query(app, redirect_uri=REDIRECT_URI))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    foreign = await http.post(TOKEN, data=form, headers=basic(other.application.client_id, other.client_secret))
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_grant"
    own = basic(app.application.client_id, app.client_secret)
    no_uri = await http.post(TOKEN, data={**form, "redirect_uri": ""}, headers=own)
    assert no_uri.status_code == 400 and no_uri.json()["error"] == "invalid_grant"
    async with container.uow() as uow:
        await uow.conn.execute(update(oauth_codes).where(oauth_codes.c.client_id == app.application.client_id)
                               .values(expires_at=now() - timedelta(seconds=1)))
    expired = await http.post(TOKEN, data=form, headers=own)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


async def test_client_authentication_failures_are_invalid_client_with_a_basic_challenge(
        container: Container, http: httpx.AsyncClient) -> None:
    app = await register_app(container)
    form = {"grant_type": "authorization_code", "code": "whatever"}
    wrong = await http.post(TOKEN, data=form, headers=basic(app.application.client_id, "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    unknown = await http.post(TOKEN, data={**form, "client_id": "nobody", "client_secret": "x"})
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    both = await http.post(TOKEN, data={**form, "client_secret": app.client_secret},
                           headers=basic(app.application.client_id, app.client_secret))
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    bad_code = await http.post(TOKEN, data=form, headers=basic(app.application.client_id, app.client_secret))
    assert bad_code.status_code == 400 and bad_code.json()["error"] == "invalid_grant"


async def test_only_the_authorization_code_grant_is_supported(container: Container, http: httpx.AsyncClient) -> None:
    app = await register_app(container)
    auth = basic(app.application.client_id, app.client_secret)
    other = await http.post(TOKEN, data={"grant_type": "password", "username": "a", "password": "b"}, headers=auth)
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"
    missing = await http.post(TOKEN, data={"code": "x"}, headers=auth)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    not_json = await http.post(TOKEN, content=b"{", headers={**auth, "Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_request"


async def test_clarity_token_requests_may_come_as_a_form_or_json(
        browser: Browser, container: Container, http: httpx.AsyncClient) -> None:
    app = await register_app(container)
    creds = {"client_id": app.application.client_id, "client_secret": app.client_secret,
             "grant_type": "authorization_code"}
    form_code = await approve_with_session_token(browser, container, authorize_query(app))
    by_form = await http.post(AUTHORIZE, data={**creds, "code": form_code})
    assert by_form.status_code == 200 and by_form.json()["oauth_token"]
    json_code = await approve_with_session_token(browser, container, authorize_query(app))
    by_json = await http.post(AUTHORIZE, json={**creds, "code": json_code})
    assert by_json.status_code == 200 and by_json.json()["oauth_token"]
    token = by_json.json()["oauth_token"]
    in_body = await http.post(ME, json={"oauth_token": token, "location": "Body token"})
    assert in_body.status_code == 200, in_body.text


async def test_a_client_revokes_its_own_tokens_and_cannot_revoke_others(
        browser: Browser, container: Container, http: httpx.AsyncClient) -> None:
    app, other = await register_app(container), await register_app(container)
    code = await approve_with_session_token(browser, container, authorize_query(app))
    own = basic(app.application.client_id, app.client_secret)
    token = (await http.post(TOKEN, data={"grant_type": "authorization_code", "code": code},
                             headers=own)).json()["access_token"]
    revoke = "/experts/oauth/revoke"
    foreign = await http.post(revoke, data={"token": token}, headers=basic(other.application.client_id,
                                                                           other.client_secret))
    assert foreign.status_code == 200
    assert (await http.get(ME, params={"oauth_token": token})).status_code == 200
    assert (await http.post(revoke, data={"token": token}, headers=own)).status_code == 200
    assert (await http.get(ME, params={"oauth_token": token})).status_code == 401
    assert (await http.post(revoke, data={"token": "unknown"}, headers=own)).status_code == 200
    assert (await http.post(revoke, data={}, headers=own)).json()["error"] == "invalid_request"
    assert (await http.post(revoke, data={"token": token})).status_code == 401


async def test_a_body_beyond_the_limit_is_refused(container: Container, http: httpx.AsyncClient) -> None:
    answer = await http.post(TOKEN, content=b"code=" + b"x" * (container.settings.experts.max_request_bytes + 1),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and answer.json()["error"] == "request_too_large"


async def test_denying_sends_access_denied_and_the_state_to_the_client(browser: Browser, container: Container) -> None:
    app = await register_app(container)
    state = 's-42 "><b>&amp;'
    got = await browser.authorize(authorize_query(app, state=state), random_phone(), decision="deny")
    assert got == {"error": "access_denied", "error_description": "The member denied the request.", "state": state}


async def test_an_unknown_client_or_a_foreign_redirect_uri_gets_an_error_page_not_a_redirect(
        browser: Browser, container: Container) -> None:
    app = await register_app(container)
    unknown = await browser.open({"client_id": "nope", "response_type": "code"})
    assert unknown.status_code == 400 and "text/html" in unknown.headers["content-type"]
    foreign = await browser.open(authorize_query(app, redirect_uri="https://evil.example/cb"))
    assert foreign.status_code == 400 and "location" not in foreign.headers
    missing = await browser.open({"response_type": "code"})
    assert missing.status_code == 400 and "client_id is required" in missing.text
    twice = await browser.http.get(f"{AUTHORIZE}?client_id={app.application.client_id}&response_type=code"
                                   f"&redirect_uri={REDIRECT_URI}&redirect_uri=https://evil.example/cb")
    assert twice.status_code == 400 and "repeated" in twice.text


async def test_request_errors_the_client_can_hear_of_go_to_its_redirect_uri(browser: Browser,
                                                                           container: Container) -> None:
    app = await register_app(container)
    token = redirect_params(await browser.open(authorize_query(app, response_type="token", state="a")))
    assert token["error"] == "unsupported_response_type" and token["state"] == "a"
    method = redirect_params(await browser.open(authorize_query(app, code_challenge="x" * 43,
                                                                code_challenge_method="S512")))
    assert method["error"] == "invalid_request"
    scope = redirect_params(await browser.open(authorize_query(app, scope='a"b')))
    assert scope["error"] == "invalid_scope"


async def test_the_approval_form_needs_its_csrf_token_and_a_signed_in_member(
        browser: Browser, container: Container, http: httpx.AsyncClient, app: FastAPI) -> None:
    client_app = await register_app(container)
    query = authorize_query(client_app)
    approval = await browser.sign_in_by_text(query, random_phone())
    fields = hidden_fields(approval.text, "approve")
    forged = await http.post("/experts/oauth/approve", data={**fields, "csrf": "x" * 32, "decision": "approve"})
    assert forged.status_code == 403 and "location" not in forged.headers
    async with http_client(app) as stranger:  # no cookies: neither the CSRF token nor the session
        blind = await stranger.post("/experts/oauth/approve", data={**fields, "decision": "approve"})
        assert blind.status_code == 403
        stranger.cookies.set("townhall_experts_csrf", fields["csrf"])
        signed_out = await stranger.post("/experts/oauth/approve", data={**fields, "decision": "approve"})
        assert signed_out.status_code == 401 and 'action="signin/phone"' in signed_out.text
    undecided = await browser.submit(approval, "approve", decision="maybe")
    assert undecided.status_code == 400


async def test_a_wrong_text_code_asks_again_and_a_bad_number_is_explained(browser: Browser,
                                                                        container: Container) -> None:
    app = await register_app(container)
    page = await browser.open(authorize_query(app))
    bad_number = await browser.submit(page, "signin/phone", phone="12")
    assert bad_number.status_code == 400 and "valid phone number" in bad_number.text
    asked = await browser.submit(page, "signin/phone", phone=random_phone())
    wrong = await browser.submit(asked, "signin/code", code="000000000")
    assert wrong.status_code == 400 and "not right" in wrong.text and 'action="signin/code"' in wrong.text


async def test_a_pasted_session_token_signs_the_member_in_and_a_bad_one_is_refused(
        browser: Browser, container: Container) -> None:
    app = await register_app(container)
    member = await make_member(container)
    page = await browser.open(authorize_query(app))
    refused = await browser.submit(page, "signin/token", auth_token="not-a-token")
    assert refused.status_code == 400 and "not valid" in refused.text
    signed = await browser.submit(page, "signin/token", auth_token=await social_session(container, member.user_id))
    assert signed.status_code == 303
    approval = await browser.http.get(signed.headers["location"])
    assert 'action="approve"' in approval.text
    bad_header = await browser.open(authorize_query(app), headers={"Authorization": "Token not-a-token"})
    assert bad_header.status_code == 401 and "not valid" in bad_header.text
    signed_out = await browser.submit(approval, "signout")
    assert signed_out.status_code == 303
    assert 'action="signin/phone"' in (await browser.http.get(signed_out.headers["location"])).text


async def test_the_authorization_endpoints_are_documented(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/experts/openapi.json")).json()
    assert {"/oauth/authorize", "/oauth/token", "/v1/applications"} <= set(spec["paths"])
    assert {"get", "post"} <= set(spec["paths"]["/oauth/authorize"])
