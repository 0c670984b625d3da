"""Bad input to the room endpoints: clear ``{success: false}`` errors, never a 500; auth on every one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

API = "/social/api"
People = Any

ROOM_ENDPOINTS = [
    "create_channel", "join_channel", "leave_channel", "get_channel", "get_channels", "get_feed", "active_ping",
    "hide_channel", "make_channel_public", "make_channel_social", "end_channel", "get_create_channel_targets",
    "get_suggested_speakers", "audience_reply", "change_handraise_settings", "invite_speaker", "uninvite_speaker",
    "accept_speaker_invite", "reject_speaker_invite", "make_moderator", "mute_speaker", "block_from_channel",
    "invite_to_existing_channel", "invite_to_new_channel", "accept_new_channel_invite",
    "reject_new_channel_invite", "cancel_new_channel_invite",
]


@pytest.mark.parametrize("endpoint", ROOM_ENDPOINTS)
async def test_every_room_endpoint_needs_a_signed_in_caller(client: httpx.AsyncClient, endpoint: str) -> None:
    response = await client.post(f"{API}/{endpoint}", json={"channel": "abcdefgh"})
    assert response.status_code == 401 and response.json()["detail"]


@pytest.mark.parametrize("endpoint", [e for e in ROOM_ENDPOINTS if e not in (
    "create_channel", "get_channels", "get_feed", "get_create_channel_targets", "accept_new_channel_invite",
    "reject_new_channel_invite", "cancel_new_channel_invite")])
async def test_every_room_endpoint_refuses_a_missing_or_unknown_channel(people: People, endpoint: str) -> None:
    (ada,) = await people("Ada")
    assert await ada.fails(endpoint, {"user_id": ada.user_id, "raise_hands": True})
    message = await ada.fails(endpoint, {"channel": "nosuchroom", "user_id": ada.user_id, "raise_hands": True})
    assert message


@pytest.mark.parametrize("body", [
    {"topic": 12}, {"topic": "t" * 300}, {"user_ids": "x"}, {"user_ids": [-1]}, {"club_id": "abc"},
    {"club_id": -3}, {"event_id": 999999999}, {"club_id": 999999999}, {"is_private": "maybe"},
])
async def test_create_channel_refuses_bad_fields(people: People, body: dict[str, Any]) -> None:
    (ada,) = await people("Ada")
    assert await ada.fails("create_channel", body)


@pytest.mark.parametrize("body", [
    {"channel": ["a"]}, {"channel": "x" * 100}, {"channel": ""}, {"channel": {"a": 1}},
])
async def test_join_channel_refuses_bad_channel_values(people: People, body: dict[str, Any]) -> None:
    (ada,) = await people("Ada")
    assert await ada.fails("join_channel", body)


async def test_speaker_and_moderator_calls_refuse_bad_user_ids(people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    code = (await ada.ok("create_channel", {}))["channel"]
    for endpoint in ("invite_speaker", "uninvite_speaker", "make_moderator", "mute_speaker", "block_from_channel",
                     "invite_to_existing_channel"):
        assert await ada.fails(endpoint, {"channel": code})
        assert await ada.fails(endpoint, {"channel": code, "user_id": "bob"})
        assert await ada.fails(endpoint, {"channel": code, "user_id": 0})
    # not in the room
    assert await ada.fails("invite_speaker", {"channel": code, "user_id": bob.user_id}) == \
        "This user is not in the room."
    assert await ada.fails("change_handraise_settings", {"channel": code, "handraise_permission": 7})
    assert await ada.fails("audience_reply", {"channel": code, "raise_hands": True, "unraise_hands": True})
    assert await ada.fails("accept_new_channel_invite", {"channel_invite_id": "x"})
    assert await ada.fails("accept_new_channel_invite", {"channel_invite_id": 987654321})


async def test_bad_json_is_a_clear_error(people: People) -> None:
    (ada,) = await people("Ada")
    response = await ada.http.post(f"{API}/join_channel", content=b"{not json", headers={
        **ada.headers, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json() == {
        "success": False, "error_message": "The request body is not valid JSON."}


async def test_other_users_cannot_act_on_a_room_they_are_not_in(people: People) -> None:
    ada, bob, cat = await people("Ada", "Bob", "Cat")
    code = (await ada.ok("create_channel", {}))["channel"]
    await bob.ok("join_channel", {"channel": code})
    for endpoint in ("end_channel", "make_channel_public", "change_handraise_settings"):
        assert await cat.fails(endpoint, {"channel": code, "handraise_permission": 1})
    assert await cat.fails("make_moderator", {"channel": code, "user_id": bob.user_id})
    assert await cat.fails("audience_reply", {"channel": code, "raise_hands": True}) == "You are not in this room."
    assert await cat.fails("invite_to_existing_channel", {"channel": code, "user_id": bob.user_id})
