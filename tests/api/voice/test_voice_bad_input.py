"""The voice surface's answers to callers it does not know and to bad requests: 401s, Ajv-shaped
body errors, parse errors, unknown paths, wrong methods, oversized bodies; never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.voice.conftest import enter, new_address, new_community
from townhall.api.voice.schemas import ACTIONS, ADDRESS_PATTERN, ROLES

A, C = new_address(), new_community()
ROUTES = [
    ("POST", "/community-voice-chat"),
    ("GET", "/community-voice-chat/active"),
    ("POST", "/community-voice-chat/status"),
    ("GET", f"/community-voice-chat/{C}/status"),
    ("GET", f"/users/{A}/community-voice-chat-status"),
    ("POST", f"/community-voice-chat/{C}/users/{A}/speak-request"),
    ("DELETE", f"/community-voice-chat/{C}/users/{A}/speak-request"),
    ("POST", f"/community-voice-chat/{C}/users/{A}/speaker"),
    ("DELETE", f"/community-voice-chat/{C}/users/{A}/speaker"),
    ("PATCH", f"/community-voice-chat/{C}/users/{A}/mute"),
    ("DELETE", f"/community-voice-chat/{C}/users/{A}"),
    ("DELETE", f"/community-voice-chat/{C}"),
    ("POST", "/private-voice-chat"),
    ("DELETE", "/private-voice-chat/some-room"),
    ("GET", f"/users/{A}/voice-chat-status"),
]


def _error(path: str, schema_path: str, keyword: str, params: dict[str, Any], message: str) -> dict[str, Any]:
    return {"ok": False, "message": "Invalid JSON body", "data": [
        {"instancePath": path, "schemaPath": schema_path, "keyword": keyword, "params": params, "message": message}]}


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_the_service_token(voice_http: httpx.AsyncClient, method: str, path: str) -> None:
    missing = await voice_http.request(method, path, headers={"Authorization": ""})
    assert (missing.status_code, missing.json()) == (401, {"error": "Authorization header is missing"})
    for wrong in ("Bearer nope", "Basic " + str(voice_http.headers["authorization"]).split()[1], "Bearer"):
        answer = await voice_http.request(method, path, headers={"Authorization": wrong})
        assert (answer.status_code, answer.json()) == (401, {"error": "Invalid authorization header"})


async def test_unknown_paths_are_not_found_and_wrong_methods_name_the_allowed_ones(
        voice_http: httpx.AsyncClient) -> None:
    answer = await voice_http.get("/no-such-thing")
    assert (answer.status_code, answer.json()) == (404, {"error": "Not Found"})
    answer = await voice_http.put(f"/community-voice-chat/{C}/users/{A}/speaker")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, POST"
    answer = await voice_http.get("/community-voice-chat")
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
    answer = await voice_http.put("/community-voice-chat/active")
    assert (answer.status_code, answer.headers["allow"]) == (405, "DELETE, GET")


@pytest.mark.parametrize(("body", "expected"), [
    ({"user_address": A, "action": "join"},
     _error("", "#/required", "required", {"missingProperty": "community_id"},
            "must have required property 'community_id'")),
    ({"community_id": "", "user_address": A, "action": "join"},
     _error("/community_id", "#/properties/community_id/minLength", "minLength", {"limit": 1},
            "must NOT have fewer than 1 characters")),
    ({"community_id": 7, "user_address": A, "action": "join"},
     _error("/community_id", "#/properties/community_id/type", "type", {"type": "string"}, "must be string")),
    ({"community_id": C, "user_address": "0x12", "action": "join"},
     _error("/user_address", "#/properties/user_address/pattern", "pattern", {"pattern": ADDRESS_PATTERN},
            f'must match pattern "{ADDRESS_PATTERN}"')),
    ({"community_id": C, "user_address": A, "action": "dance"},
     _error("/action", "#/properties/action/enum", "enum", {"allowedValues": ACTIONS},
            "must be equal to one of the allowed values")),
    ({"community_id": C, "user_address": A, "action": "join", "user_role": None},
     _error("/user_role", "#/properties/user_role/enum", "enum", {"allowedValues": ROLES},
            "must be equal to one of the allowed values")),
    ({"community_id": C, "user_address": A, "action": "join", "user_role": 3},
     _error("/user_role", "#/properties/user_role/type", "type", {"type": "string"}, "must be string")),
    ({"community_id": C, "user_address": A, "action": "join", "profile_data": []},
     _error("/profile_data", "#/properties/profile_data/type", "type", {"type": "object"}, "must be object")),
    ({"community_id": C, "user_address": A, "action": "join", "profile_data": {"has_claimed_name": "yes"}},
     _error("/profile_data/has_claimed_name", "#/properties/profile_data/properties/has_claimed_name/type", "type",
            {"type": "boolean"}, "must be boolean")),
    ([1, 2], _error("", "#/type", "type", {"type": "object"}, "must be object")),
])
async def test_bad_credential_requests_answer_the_first_schema_error(voice_http: httpx.AsyncClient, body: Any,
                                                                     expected: dict[str, Any]) -> None:
    answer = await voice_http.post("/community-voice-chat", json=body)
    assert (answer.status_code, answer.json()) == (400, expected)


async def test_nullable_profile_fields_and_a_null_profile_are_fine(voice_http: httpx.AsyncClient) -> None:
    answer = await enter(voice_http, new_community(), new_address(), profile_data=None)
    assert answer.status_code == 200
    answer = await enter(voice_http, new_community(), new_address(),
                         profile_data={"name": None, "has_claimed_name": None, "profile_picture_url": None})
    assert answer.status_code == 200


async def test_a_body_that_is_not_json_answers_the_parse_error(voice_http: httpx.AsyncClient) -> None:
    for route in ("/community-voice-chat", "/community-voice-chat/status", "/private-voice-chat"):
        answer = await voice_http.post(route, content=b"{not json")
        assert answer.status_code == 400
        assert answer.json()["ok"] is False and set(answer.json()) == {"ok", "message"}
        assert answer.json()["message"]
    answer = await voice_http.patch(f"/community-voice-chat/{C}/users/{A}/mute", content=b"\xff\xfe")
    assert answer.status_code == 400 and answer.json()["ok"] is False


async def test_bad_bulk_status_requests(voice_http: httpx.AsyncClient) -> None:
    answer = await voice_http.post("/community-voice-chat/status", json={})
    assert answer.json() == _error("", "#/required", "required", {"missingProperty": "community_ids"},
                                   "must have required property 'community_ids'")
    answer = await voice_http.post("/community-voice-chat/status", json={"community_ids": ["a", ""]})
    assert answer.json() == _error("/community_ids/1", "#/properties/community_ids/items/minLength", "minLength",
                                   {"limit": 1}, "must NOT have fewer than 1 characters")
    answer = await voice_http.post("/community-voice-chat/status", json={"community_ids": "a"})
    assert answer.json()["data"][0]["keyword"] == "type"
    answer = await voice_http.post("/community-voice-chat/status", json={"community_ids": ["a", "  "]})
    assert (answer.status_code, answer.json()) == (400, {"error": "All community_ids must be non-empty strings"})


async def test_a_blank_community_id_is_refused(voice_http: httpx.AsyncClient) -> None:
    answer = await voice_http.get("/community-voice-chat/%20/status")
    assert (answer.status_code, answer.json()) == (400, {"error": "The parameter communityId is required"})
    answer = await voice_http.post(f"/community-voice-chat/%20/users/{A}/speaker")
    assert answer.status_code == 400


async def test_bad_mute_requests(voice_http: httpx.AsyncClient) -> None:
    url = f"/community-voice-chat/{C}/users/{A}/mute"
    answer = await voice_http.patch(url, json={})
    assert answer.json() == _error("", "#/required", "required", {"missingProperty": "muted"},
                                   "must have required property 'muted'")
    answer = await voice_http.patch(url, json={"muted": "yes"})
    assert answer.json() == _error("/muted", "#/properties/muted/type", "type", {"type": "boolean"},
                                   "must be boolean")


async def test_ending_needs_a_user_address(voice_http: httpx.AsyncClient) -> None:
    url = f"/community-voice-chat/{C}"
    for kwargs in ({"json": {}}, {"json": {"user_address": ""}}, {"json": [1]}, {"content": b""}):
        answer = await voice_http.request("DELETE", url, **kwargs)  # type: ignore[arg-type]
        expected = "Invalid request body" if kwargs.get("content") == b"" else "The property user_address is required"
        assert (answer.status_code, answer.json()) == (400, {"error": expected})
    answer = await voice_http.request("DELETE", url, json={"user_address": "not an address"})
    assert answer.status_code == 400


async def test_values_no_database_could_store_are_refused(voice_http: httpx.AsyncClient) -> None:
    answer = await enter(voice_http, "nul\x00community", new_address())
    assert (answer.status_code, answer.json()) == (400, {"error": "community_id contains a NUL character"})
    answer = await enter(voice_http, "x" * 256, new_address())
    assert answer.status_code == 400
    answer = await enter(voice_http, new_community(), new_address(), profile_data={"name": "n" * 300})
    assert answer.status_code == 400


async def test_oversized_bodies_are_refused(voice_http: httpx.AsyncClient) -> None:
    answer = await voice_http.post("/community-voice-chat/status", json={"community_ids": ["x" * 200_000]})
    assert answer.status_code == 413
    assert "larger than" in answer.json()["error"]


async def test_bad_private_voice_chat_requests(voice_http: httpx.AsyncClient) -> None:
    answer = await voice_http.post("/private-voice-chat", json={"user_addresses": [A], "room_id": "r"})
    assert answer.json() == _error("/user_addresses", "#/properties/user_addresses/minItems", "minItems",
                                   {"limit": 2}, "must NOT have fewer than 2 items")
    answer = await voice_http.post("/private-voice-chat", json={"user_addresses": [A, A, A], "room_id": "r"})
    assert answer.json()["data"][0]["keyword"] == "maxItems"
    answer = await voice_http.post("/private-voice-chat", json={"user_addresses": [A, "0xzz"], "room_id": "r"})
    assert answer.json()["data"][0]["instancePath"] == "/user_addresses/1"
    answer = await voice_http.post("/private-voice-chat", json={"user_addresses": [A, A.lower()], "room_id": "r"})
    assert (answer.status_code, answer.json()) == (400, {"error": "user_addresses must be two different addresses"})
    url = "/private-voice-chat/some-room"
    answer = await voice_http.request("DELETE", url, content=b"nope")
    assert answer.json() == {"error": "Invalid request body"}
    answer = await voice_http.request("DELETE", url, json={})
    assert answer.json() == {"error": "Invalid request body, missing address"}
    answer = await voice_http.request("DELETE", url, json={"address": "0x1"})
    assert answer.json() == {"error": "Invalid request body, invalid address"}


async def test_ids_and_addresses_no_chat_could_have_name_nothing(voice_http: httpx.AsyncClient) -> None:
    answer = await voice_http.get("/community-voice-chat/a%00b/status")
    assert answer.json() == {"active": False, "participant_count": 0, "moderator_count": 0}
    answer = await voice_http.post("/community-voice-chat/status", json={"community_ids": ["a\x00b", "y" * 300]})
    assert [s["active"] for s in answer.json()["data"]] == [False, False]
    answer = await voice_http.get("/users/0x%00/community-voice-chat-status")
    assert answer.json()["isInCommunityVoiceChat"] is False
    answer = await voice_http.post("/community-voice-chat/a%00b/users/0x1/speaker")
    assert answer.status_code == 400
    community_id = new_community()
    await enter(voice_http, community_id, new_address(), action="create", role="owner")
    answer = await voice_http.post(f"/community-voice-chat/{community_id}/users/0x%00/speaker")
    assert answer.status_code == 404
    answer = await voice_http.request("DELETE", "/private-voice-chat/a%00b", json={"address": A})
    assert answer.status_code == 400


async def test_lone_surrogates_in_a_body_are_refused_as_invalid_json(voice_http: httpx.AsyncClient) -> None:
    address, other = new_address().encode(), new_address().encode()
    cases = [
        ("POST", "/community-voice-chat",
         b'{"community_id":"x\\ud800","user_address":"%s","action":"create","user_role":"owner"}' % address),
        ("POST", "/community-voice-chat", b'{"community_id":"%s","user_address":"%s","action":"create",'
         b'"user_role":"owner","profile_data":{"name":"\\udfff"}}' % (new_community().encode(), address)),
        ("POST", "/community-voice-chat/status", b'{"community_ids":["\\ud800"]}'),
        ("POST", "/private-voice-chat", b'{"user_addresses":["%s","%s"],"room_id":"\\ud800"}' % (address, other)),
    ]
    for method, path, body in cases:
        answer = await voice_http.request(method, path, content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["ok"] is False and answer.json()["message"]
    answer = await voice_http.request("DELETE", "/community-voice-chat/abc", content=b'{"user_address":"\\ud800"}')
    assert (answer.status_code, answer.json()) == (400, {"error": "Invalid request body"})


async def test_community_ids_in_other_scripts_digits_are_not_our_communities(voice_http: httpx.AsyncClient) -> None:
    for community_id in ("\u00b2", "\u2460", "\u0661"):  # ², ①, Arabic-Indic one: isdigit() says yes
        owner = new_address()
        answer = await enter(voice_http, community_id, owner, action="create", role="owner")
        assert answer.status_code == 200, answer.text
        answer = await voice_http.request("DELETE", f"/community-voice-chat/{community_id}", json={"user_address": owner})
        assert answer.status_code == 200, answer.text
