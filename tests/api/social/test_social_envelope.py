"""The social surface's envelope and leniency: JSON everywhere, DRF auth errors, GET and POST on
every endpoint, parameters from the query string or the body, and never a 500 for bad input."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from .conftest import API, SignIn


def _social_app(app: FastAPI) -> FastAPI:
    return next(r.app for r in app.routes if getattr(r, "path", "") == "/social")


# The clubs, topics and events routers have tests of their own.
OTHERS = {"townhall.api.social.routes_clubs", "townhall.api.social.routes_topics", "townhall.api.social.routes_events"}


def _routes(app: FastAPI) -> list[APIRoute]:
    return [r for router in _social_app(app).state.routers for r in router.routes
            if isinstance(r, APIRoute) and r.endpoint.__module__ not in OTHERS]


def _endpoints(app: FastAPI) -> list[str]:
    return sorted({r.path.strip("/") for r in _routes(app)})


async def test_every_endpoint_answers_get_and_post(app: FastAPI) -> None:
    methods: dict[str, set[str]] = {}
    for route in _routes(app):
        if route.include_in_schema:
            methods.setdefault(route.path, set()).update(route.methods)
    assert methods and all(m >= {"GET", "POST"} for m in methods.values()), methods


async def test_unknown_paths_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{API}/no_such_endpoint")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    wrong = await client.delete(f"{API}/me")
    assert wrong.status_code == 405 and wrong.json() == {"detail": "Method not allowed."}


async def test_the_openapi_document_lists_the_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/social/openapi.json")).json()
    assert "/api/complete_phone_number_auth" in spec["paths"]
    assert (await client.get("/social/docs")).status_code == 200


async def test_params_come_from_the_query_string_or_the_body_and_header_names_ignore_case(
    new_member: SignIn
) -> None:
    alice, bob = await new_member(), await new_member()
    headers = {"authorization": f"Token {alice.auth_token}", "ch-userid": str(alice.user_id),
               "CH-AppVersion": "0.1.40", "CH-Languages": "en-US", "Content-Type": "application/json; charset=utf-8"}
    by_query = await alice.http.get(f"{API}/get_profile", params={"user_id": bob.user_id}, headers=headers)
    assert by_query.status_code == 200 and by_query.json()["user_profile"]["user_id"] == bob.user_id
    by_body = await alice.http.post(f"{API}/get_profile", json={"user_id": str(bob.user_id)}, headers=headers)
    assert by_body.json()["user_profile"]["user_id"] == bob.user_id
    form = await alice.http.post(f"{API}/get_profile", data={"user_id": str(bob.user_id)},
                                 headers={"Authorization": f"Token {alice.auth_token}"})
    assert form.json()["user_profile"]["user_id"] == bob.user_id


async def test_empty_bodies_are_accepted(new_member: SignIn) -> None:
    member = await new_member()
    for endpoint in ("get_release_notes", "check_waitlist_status", "me", "get_settings"):
        answer = await member.http.post(f"{API}/{endpoint}", content=b"",
                                        headers={**member.headers, "Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json()["success"] is True, (endpoint, answer.text)


async def test_malformed_and_oversized_bodies_are_client_errors(new_member: SignIn) -> None:
    member = await new_member()
    bad = await member.http.post(f"{API}/me", content=b"{nope", headers=member.headers)
    assert bad.status_code == 400 and bad.json() == {"success": False,
                                                    "error_message": "The request body is not valid JSON."}
    listed = await member.http.post(f"{API}/me", content=b"[1]", headers=member.headers)
    assert listed.status_code == 400 and listed.json()["success"] is False
    big = await member.http.post(f"{API}/update_bio", content=b'{"bio": "' + b"x" * 1_100_000 + b'"}',
                                 headers=member.headers)
    assert big.status_code == 413 and big.json()["success"] is False


BAD_BODIES: list[object] = [
    {}, {"user_id": "abc"}, {"user_id": -5}, {"user_id": 10**30}, {"user_id": [1]}, {"user_id": 999_999_999},
    {"user_ids": "x,y"}, {"user_ids": [None, "a", {}]}, {"phone_number": 5}, {"phone_number": "+1"},
    {"verification_code": ["1"], "phone_number": "+14155550100"}, {"username": None}, {"username": "a" * 500},
    {"name": {"a": 1}}, {"bio": 7}, {"skintone": "dark"}, {"email": "nope"}, {"page": "x", "page_size": -1},
    {"page": 0}, {"query": {"$x": 1}}, {"contacts": "x"}, {"contacts": [1, {"phone_number": []}]},
    {"notification_type": 9, "user_id": 1}, {"actionable_notification_id": "x"}, {"refresh": 5},
    {"frequency": 99, "pause_till": "x"}, {"enable_trending": "maybe"}, {"action_trails": {"a": 1}},
    {"incident_description": ["x"], "user_id": 1}, {"twitter": "bad handle!"},
]


@pytest.mark.parametrize("signed", [True, False])
async def test_no_endpoint_answers_bad_input_with_a_server_error(
    app: FastAPI, new_member: SignIn, client: httpx.AsyncClient, signed: bool
) -> None:
    member = await new_member()
    headers = member.headers if signed else {}
    for endpoint in _endpoints(app):
        if endpoint == "logout":  # would end the session the other requests use
            continue
        for body in BAD_BODIES:
            answer = await client.post(f"{API}/{endpoint}", json=body, headers=headers)
            assert answer.status_code < 500, (endpoint, body, answer.status_code, answer.text)
            data = answer.json()
            assert isinstance(data, dict) and ("success" in data or "detail" in data or "access" in data), data
        query = await client.get(f"{API}/{endpoint}", params={"user_id": "x", "page": "-1"}, headers=headers)
        assert query.status_code < 500, (endpoint, query.text)
    if signed:
        assert (await member.call("me")).status_code == 200  # still signed in: nothing broke the session
