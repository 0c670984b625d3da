"""Crafted input never breaks the experts surface (a 500): ids in non-ASCII digits, HTTP Basic
credentials that are not UTF-8, NUL and control characters in text and lookups."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.api.experts.oauth_fixtures import REDIRECT_URI, http_client, make_member
from townhall.container import Container
from townhall.core.calls.models import call_id_of
from townhall.core.fields import check_text, has_control_characters

API = "/experts/v1"


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_room_named_with_superscript_digits_is_no_call_room() -> None:
    assert call_id_of("call-²") is None and call_id_of("call-١٢") is None and call_id_of("call-12") == 12


def test_text_with_nul_or_control_characters_is_refused_and_tabs_and_line_breaks_are_kept() -> None:
    assert check_text("a\tb\r\nc", code="x", name="text") == "a\tb\r\nc"
    for bad in ("a\x00b", "a\x1bb", "a\x7fb", "a\x85b"):
        assert has_control_characters(bad)
    assert has_control_characters("a\nb", allow="")
    with pytest.raises(Exception, match="not allowed"):
        check_text("a\x00b", code="x", name="text")


async def test_ids_in_non_ascii_digits_are_refused_or_not_found(http: httpx.AsyncClient,
                                                               container: Container) -> None:
    me, other = await make_member(container), await make_member(container)
    asked = [
        ("GET", f"{API}/calls/%C2%B2", {}), ("POST", f"{API}/needs/%C2%B2/fulfill", {}),
        ("GET", f"{API}/messages/%C2%B2", {}), ("GET", f"{API}/organizations/%C2%B2", {}),
        ("GET", f"{API}/members/%C2%B2", {}), ("GET", f"{API}/members/%D9%A1", {}),
        ("POST", f"{API}/calls", {"json": {"expert_id": "²", "reason": "x"}}),
        ("POST", f"{API}/calls", {"json": {"expert_id": other.user_id, "reason": "x", "expires_in": "²"}}),
        ("GET", f"{API}/search", {"params": {"q": "x", "offset": "²"}}),
    ]
    for method, path, options in asked:
        answer = await http.request(method, path, headers=bearer(me.oauth_token), **options)
        assert answer.status_code in (400, 404), (path, options, answer.text)
        assert answer.json()["error"] in ("invalid_request", "not_found"), answer.text
    for path in ("/experts/%C2%B2", "/experts/organizations/%C2%B2"):
        page = await http.get(path)
        assert page.status_code == 404 and "Not found" in page.text


@pytest.mark.parametrize("path", ["/experts/oauth/token", "/experts/oauth/authorize", "/experts/oauth/revoke"])
async def test_http_basic_credentials_that_are_not_utf8_are_an_invalid_client(http: httpx.AsyncClient,
                                                                               path: str) -> None:
    garbled = base64.b64encode(b"\xff\xfe:\xff").decode()
    answer = await http.post(path, data={"grant_type": "authorization_code", "code": "x", "token": "t"},
                             headers={"Authorization": "Basic " + garbled})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", answer.text
    assert answer.headers["www-authenticate"].startswith("Basic")


async def test_nul_bytes_in_text_are_refused_before_they_are_stored(http: httpx.AsyncClient,
                                                                   container: Container) -> None:
    me, other = await make_member(container), await make_member(container)
    sent = [
        ("POST", f"{API}/calls", {"json": {"expert_id": other.user_id, "reason": "a\x00b"}}),
        ("POST", f"{API}/needs", {"json": {"description": "a\x00b"}}),
        ("POST", f"{API}/applications", {"json": {"name": "a\x00b", "redirect_uri": REDIRECT_URI}}),
        ("POST", f"{API}/messages/{other.user_id}", {"json": {"message": "a\x00b"}}),
        ("PUT", f"{API}/me", {"json": {"location": "a\x00b"}}),
        ("GET", f"{API}/members", {"params": {"email": "a\x00b"}}),
        ("GET", f"{API}/members", {"params": {"twitter": "a\x00b"}}),
        ("GET", f"{API}/members/a%00b", {}),
    ]
    for method, path, options in sent:
        answer = await http.request(method, path, headers=bearer(me.oauth_token), **options)
        assert answer.status_code in (400, 404), (path, answer.text)
    assert (await http.get(f"{API}/calls/requested", headers=bearer(me.oauth_token))).json() == []
    page = await http.get("/experts/a%00b")
    assert page.status_code == 404 and "Not found" in page.text


async def test_a_malformed_client_id_is_an_unknown_application(http: httpx.AsyncClient) -> None:
    for client_id in ("\x00", "x" * 32, "A" * 32, "0" * 31, "0" * 32 + "\n"):
        page = await http.get("/experts/oauth/authorize", params={"client_id": client_id, "response_type": "code"})
        assert page.status_code == 400 and "no application" in page.text, client_id
        token = await http.post("/experts/oauth/token", data={"grant_type": "authorization_code", "code": "x",
                                                              "client_id": client_id, "client_secret": "s"})
        assert token.status_code == 401 and token.json()["error"] == "invalid_client"
