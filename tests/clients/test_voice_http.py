"""The Community Voice Chat API against a real ``townhall serve``, as the calling service drives it:
the service token from ``townhall keys --json``, a moderator starting a chat, a listener joining,
asking to speak and being promoted, muted and kicked, the status answers, a private 1:1 chat, and
the end."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import RunTownhall, Server


@pytest.fixture(scope="module")
def voice(server: Server, run_townhall: RunTownhall) -> Iterator[httpx.Client]:
    keys = json.loads(run_townhall("keys", "--json", "--data-dir", str(server.data_dir)).stdout)
    headers = {"Authorization": f"Bearer {keys['voice']['service_token']}"}
    with httpx.Client(base_url=f"{server.base_url}/voice", headers=headers, timeout=15) as client:
        yield client


def _address() -> str:
    return "0x" + secrets.token_hex(20)


def test_a_community_voice_chat_from_start_to_end(voice: httpx.Client) -> None:
    community, owner, guest = f"c-{uuid.uuid4()}", _address(), _address()
    assert voice.get(f"/community-voice-chat/{community}/status", headers={"Authorization": "Bearer x"}
                     ).status_code == 401
    made = voice.post("/community-voice-chat", json={
        "community_id": community, "user_address": owner, "action": "create", "user_role": "owner",
        "profile_data": {"name": "Ada", "has_claimed_name": True}})
    assert made.status_code == 200, made.text
    assert made.json()["connection_url"]
    joined = voice.post("/community-voice-chat", json={"community_id": community, "user_address": guest,
                                                       "action": "join", "user_role": "member"})
    assert joined.status_code == 200
    assert voice.get(f"/community-voice-chat/{community}/status").json() == {
        "active": True, "participant_count": 2, "moderator_count": 1}
    assert {"communityId": community, "participantCount": 2, "moderatorCount": 1} in voice.get(
        "/community-voice-chat/active").json()["data"]
    assert voice.post("/community-voice-chat/status", json={"community_ids": [community]}).json()["data"][0][
        "active"] is True
    assert voice.get(f"/users/{guest}/community-voice-chat-status").json() == {
        "userAddress": guest, "isInCommunityVoiceChat": True}
    base = f"/community-voice-chat/{community}/users/{guest}"
    assert voice.post(f"{base}/speak-request").json() == {"message": "Request to speak sent successfully"}
    assert voice.post(f"{base}/speaker").json() == {"message": "User promoted to speaker successfully"}
    assert voice.patch(f"{base}/mute", json={"muted": True}).json() == {"message": "User muted successfully"}
    assert voice.delete(f"{base}/speaker").json() == {"message": "User demoted to listener successfully"}
    assert voice.delete(base).json() == {"message": "User kicked from voice chat successfully"}
    assert voice.get(f"/community-voice-chat/{community}/status").json()["participant_count"] == 1
    bad = voice.post("/community-voice-chat", json={"community_id": community})
    assert bad.status_code == 400 and bad.json()["message"] == "Invalid JSON body"
    ended = voice.request("DELETE", f"/community-voice-chat/{community}", json={"user_address": owner})
    assert ended.json() == {"message": "Community voice chat ended successfully"}
    assert voice.get(f"/community-voice-chat/{community}/status").json() == {
        "active": False, "participant_count": 0, "moderator_count": 0}


def test_a_private_voice_chat_from_start_to_end(voice: httpx.Client) -> None:
    room, a, b = f"p-{uuid.uuid4()}", _address(), _address()
    made = voice.post("/private-voice-chat", json={"user_addresses": [a, b], "room_id": room})
    assert made.status_code == 200
    assert set(made.json()) == {a, b}
    assert voice.get(f"/users/{a}/voice-chat-status").json() == {"is_user_in_voice_chat": True}
    ended = voice.request("DELETE", f"/private-voice-chat/{room}", json={"address": a})
    assert ended.json() == {"users_in_voice_chat": [a, b]}
    assert voice.get(f"/users/{b}/voice-chat-status").json() == {"is_user_in_voice_chat": False}
