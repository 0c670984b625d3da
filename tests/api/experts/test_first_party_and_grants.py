"""Only the member themselves (a first-party token: their townhall session, or an oauth_token
townhall issued with no application) manages their applications and the applications they
authorized; an application's token acts for the member but cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.api.experts.oauth_fixtures import (
    REDIRECT_URI,
    TOKEN,
    Browser,
    authorize_query,
    basic,
    http_client,
    make_member,
    register_app,
    social_session,
)
from townhall.container import Container
from townhall.core.experts import tokens

API = "/experts/v1"
APPS = f"{API}/applications"
GRANTS = f"{API}/authorizations"


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_application_token_cannot_manage_the_members_applications(http: httpx.AsyncClient,
                                                                          container: Container) -> None:
    member = await make_member(container)
    mine = await register_app(container, owner_id=member.user_id, name="Mine")
    third = await register_app(container, name="Third party")
    async with container.uow() as uow:
        app_token = await tokens.issue(uow, member.user_id, client_id=third.application.client_id)
    client_id = mine.application.client_id
    for method, path, body in [("GET", APPS, None), ("GET", f"{APPS}/{client_id}", None),
                               ("POST", f"{APPS}/{client_id}/secret", None), ("DELETE", f"{APPS}/{client_id}", None),
                               ("POST", APPS, {"name": "evil", "redirect_uri": "https://evil.example/cb"}),
                               ("GET", GRANTS, None), ("DELETE", f"{GRANTS}/{client_id}", None)]:
        answer = await http.request(method, path, json=body, headers=bearer(app_token))
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert (await http.get(f"{API}/me", headers=bearer(app_token))).status_code == 200  # it still acts for them
    listed = (await http.get(APPS, headers=bearer(member.oauth_token))).json()
    assert [a["name"] for a in listed["applications"]] == ["Mine"]  # nothing registered, nothing deleted
    old_secret = await http.post(TOKEN, data={"grant_type": "authorization_code", "code": "x"},
                                 headers=basic(client_id, mine.client_secret))
    assert old_secret.json()["error"] == "invalid_grant"  # the secret still works: it was not regenerated


async def test_the_townhall_session_token_manages_the_members_applications(http: httpx.AsyncClient,
                                                                          container: Container) -> None:
    member = await make_member(container)
    session = {"Authorization": f"Token {await social_session(container, member.user_id)}"}
    made = await http.post(APPS, json={"name": "By session", "redirect_uri": REDIRECT_URI}, headers=session)
    assert made.status_code == 201, made.text
    listed = (await http.get(APPS, headers=bearer(member.oauth_token))).json()
    assert [a["client_id"] for a in listed["applications"]] == [made.json()["client_id"]]
    wrong = await http.get(APPS, headers={"Authorization": "Token not-a-session"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_token"


async def test_a_member_lists_the_applications_they_authorized_and_withdraws_one(
        http: httpx.AsyncClient, container: Container) -> None:
    member = await make_member(container)
    calendar, notes = await register_app(container, name="Calendar"), await register_app(container, name="Notes")
    browser = Browser(http, container)
    issued = {}
    for app in (calendar, notes):
        got = await browser.authorize(authorize_query(app, scope="read"), member.phone)
        answer = await http.post(TOKEN, data={"grant_type": "authorization_code", "code": got["code"]},
                                 headers=basic(app.application.client_id, app.client_secret))
        issued[app.application.name] = answer.json()["access_token"]
    pending = await browser.authorize(authorize_query(calendar), member.phone)  # a code not yet redeemed
    grants = await http.get(GRANTS, headers=bearer(member.oauth_token))
    assert grants.status_code == 200, grants.text
    body = grants.json()["authorizations"]
    assert [(g["name"], g["scope"]) for g in body] == [("Notes", "read"), ("Calendar", "read")]
    assert body[0]["client_id"] == notes.application.client_id and body[0]["created_at"].endswith("Z")
    one = await http.get(GRANTS, params={"limit": 1, "offset": 1}, headers=bearer(member.oauth_token))
    assert [g["name"] for g in one.json()["authorizations"]] == ["Calendar"]

    withdrawn = await http.delete(f"{GRANTS}/{calendar.application.client_id}", headers=bearer(member.oauth_token))
    assert withdrawn.status_code == 204
    assert (await http.get(f"{API}/me", headers=bearer(issued["Calendar"]))).status_code == 401
    assert (await http.get(f"{API}/me", headers=bearer(issued["Notes"]))).status_code == 200
    late = await http.post(TOKEN, data={"grant_type": "authorization_code", "code": pending["code"]},
                           headers=basic(calendar.application.client_id, calendar.client_secret))
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    left = (await http.get(GRANTS, headers=bearer(member.oauth_token))).json()["authorizations"]
    assert [g["name"] for g in left] == ["Notes"]
    again = await http.delete(f"{GRANTS}/{calendar.application.client_id}", headers=bearer(member.oauth_token))
    assert again.status_code == 404
    assert (await http.delete(f"{GRANTS}/not-a-client", headers=bearer(member.oauth_token))).status_code == 404


async def test_withdrawing_an_authorization_leaves_other_members_tokens_alone(http: httpx.AsyncClient,
                                                                             container: Container) -> None:
    one, two = await make_member(container), await make_member(container)
    app = await register_app(container)
    async with container.uow() as uow:
        token_one = await tokens.issue(uow, one.user_id, client_id=app.application.client_id)
        token_two = await tokens.issue(uow, two.user_id, client_id=app.application.client_id)
    assert (await http.delete(f"{GRANTS}/{app.application.client_id}",
                              headers=bearer(one.oauth_token))).status_code == 204
    assert (await http.get(f"{API}/me", headers=bearer(token_one))).status_code == 401
    assert (await http.get(f"{API}/me", headers=bearer(token_two))).status_code == 200
    assert (await http.get(GRANTS, headers=bearer(two.oauth_token))).json()["authorizations"][0]["client_id"] == \
        app.application.client_id
