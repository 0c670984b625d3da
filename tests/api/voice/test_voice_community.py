"""Community voice chats over HTTP: credentials, status (one, many, active), speak requests,
speakers, mutes, kicks and ending, and what the rooms core and its other clients see of them."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.api.voice.conftest import enter, live_code, new_address, new_community, status, user_id_of
from tests.recorder import Recorder
from townhall.container import Container
from townhall.core.rooms import events as ev
from townhall.core.rooms import service as rooms
from townhall.core.rooms import voice
from townhall.core.rooms.models import COMMUNITY, LISTENER, MODERATOR, REMOVED, SPEAKER
from townhall.core.rooms.tables import rooms as rooms_table


async def _participant(container: Container, community_id: str, address: str) -> rooms.Participant:
    async with container.read() as conn:
        room = await voice.live_room(conn, COMMUNITY, community_id)
        assert room is not None
        found = await rooms.participant(conn, room.id, await user_id_of(container, address))
    assert found is not None
    return found


async def _started(http: httpx.AsyncClient, role: str = "owner") -> tuple[str, str]:
    community_id, owner = new_community(), new_address()
    answer = await enter(http, community_id, owner, action="create", role=role)
    assert answer.status_code == 200, answer.text
    return community_id, owner


async def test_creating_a_voice_chat_answers_credentials_and_makes_the_creator_a_speaking_moderator(
        voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, owner = new_community(), new_address()
    async with Recorder(container) as seen:
        answer = await enter(voice_http, community_id, owner, action="create", role="owner",
                             profile_data={"name": "Ada", "has_claimed_name": True,
                                           "profile_picture_url": "https://x/a.png"})
    assert answer.status_code == 200
    # Clubhouse clients of the room see who joined, by the name the profile brought
    code = await live_code(container, community_id)
    assert [(e.member.name, e.member.photo_url, e.member.role) for e in seen.of(ev.UserJoined)
            if e.channel == code] == [("Ada", "https://x/a.png", MODERATOR)]
    assert list(answer.json()) == ["connection_url"]
    assert answer.json()["connection_url"].startswith("null:?")
    assert "publish=true" in answer.json()["connection_url"]
    me = await _participant(container, community_id, owner)
    assert (me.role, me.community_role, me.is_moderator) == (MODERATOR, "owner", True)
    assert me.profile == {"name": "Ada", "has_claimed_name": True, "profile_picture_url": "https://x/a.png"}
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 1, "moderator_count": 1}


async def test_addresses_name_one_user_whatever_their_case(voice_http: httpx.AsyncClient,
                                                          container: Container) -> None:
    community_id, owner = await _started(voice_http)
    again = await enter(voice_http, community_id, owner.lower(), action="join", role="owner")
    assert again.status_code == 200
    async with container.read() as conn:
        room = await voice.live_room(conn, COMMUNITY, community_id)
        assert room is not None
        assert len(await rooms.participants(conn, room.id)) == 1
        assert (await voice.addresses_of(conn, [await user_id_of(container, owner)])).popitem()[1] == owner.lower()


async def test_joining_makes_a_listener_and_only_create_puts_a_moderator_on_stage(
        voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, _ = await _started(voice_http)
    member, moderator = new_address(), new_address()
    assert "publish=false" in (await enter(voice_http, community_id, member, role="member")).json()["connection_url"]
    # every action but create behaves as join
    for action in ("join", "request-to-speak", "promote-speaker", "demote-speaker", "kick-player"):
        assert (await enter(voice_http, community_id, moderator, action=action, role="moderator")).status_code == 200
    listener_moderator = await _participant(container, community_id, moderator)
    assert (listener_moderator.role, listener_moderator.is_moderator) == (LISTENER, True)
    assert (await _participant(container, community_id, member)).role == LISTENER
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 3, "moderator_count": 2}
    # a member's create is a join (an unknown community: the caller's word is the role)
    other = new_address()
    assert (await enter(voice_http, community_id, other, action="create", role="member")).status_code == 200
    assert (await _participant(container, community_id, other)).role == LISTENER


async def test_one_live_room_per_community_and_a_new_one_after_it_ended(
        voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, owner = await _started(voice_http)
    first = await live_code(container, community_id)
    await enter(voice_http, community_id, new_address(), action="create", role="moderator")
    assert await live_code(container, community_id) == first
    ended = await voice_http.request("DELETE", f"/community-voice-chat/{community_id}", json={"user_address": owner})
    assert ended.status_code == 200
    assert ended.json() == {"message": "Community voice chat ended successfully"}
    assert await status(voice_http, community_id) == {"active": False, "participant_count": 0, "moderator_count": 0}
    await enter(voice_http, community_id, owner, action="create", role="owner")
    assert await live_code(container, community_id) != first
    async with container.read() as conn:
        count = len((await conn.execute(select(rooms_table.c.id).where(
            rooms_table.c.external_id == community_id))).all())
    assert count == 2


async def test_ending_a_chat_that_is_not_live_is_fine(voice_http: httpx.AsyncClient) -> None:
    answer = await voice_http.request("DELETE", f"/community-voice-chat/{new_community()}",
                                      json={"user_address": new_address()})
    assert answer.status_code == 200


async def test_the_bulk_status_answers_every_community_asked_in_order(voice_http: httpx.AsyncClient) -> None:
    live, _ = await _started(voice_http)
    quiet = new_community()
    answer = await voice_http.post("/community-voice-chat/status", json={"community_ids": [quiet, live, quiet]})
    assert answer.status_code == 200
    assert answer.json() == {"data": [
        {"community_id": quiet, "active": False, "participant_count": 0, "moderator_count": 0},
        {"community_id": live, "active": True, "participant_count": 1, "moderator_count": 1},
        {"community_id": quiet, "active": False, "participant_count": 0, "moderator_count": 0},
    ]}
    empty = await voice_http.post("/community-voice-chat/status", json={"community_ids": []})
    assert empty.json() == {"data": []}


async def test_the_active_list_is_camel_case_and_counts_present_people(voice_http: httpx.AsyncClient) -> None:
    community_id, _ = await _started(voice_http)
    await enter(voice_http, community_id, new_address(), role="member")
    answer = await voice_http.get("/community-voice-chat/active")
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == len(body["data"])
    mine = [c for c in body["data"] if c["communityId"] == community_id]
    assert mine == [{"communityId": community_id, "participantCount": 2, "moderatorCount": 1}]


async def test_the_active_list_pages_when_asked(voice_http: httpx.AsyncClient) -> None:
    for _ in range(3):
        await _started(voice_http)
    everything = (await voice_http.get("/community-voice-chat/active")).json()
    page = (await voice_http.get("/community-voice-chat/active", params={"limit": 2, "offset": 1})).json()
    assert page["total"] == everything["total"] >= 3
    assert page["data"] == everything["data"][1:3]
    bad = await voice_http.get("/community-voice-chat/active", params={"limit": 0})
    assert bad.status_code == 400 and bad.json()["error"].startswith("Invalid request: query.limit")


async def test_the_openapi_document_describes_the_bodies(voice_http: httpx.AsyncClient) -> None:
    doc = (await voice_http.get("/openapi.json")).json()
    body = doc["paths"]["/community-voice-chat"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["community_id", "user_address", "action"]
    assert "requestBody" in doc["paths"]["/private-voice-chat/{id}"]["delete"]


async def test_a_users_community_voice_chat_status(voice_http: httpx.AsyncClient) -> None:
    community_id, owner = await _started(voice_http)
    answer = await voice_http.get(f"/users/{owner}/community-voice-chat-status")
    assert answer.json() == {"userAddress": owner.lower(), "isInCommunityVoiceChat": True}
    stranger = new_address()
    answer = await voice_http.get(f"/users/{stranger}/community-voice-chat-status")
    assert answer.json() == {"userAddress": stranger.lower(), "isInCommunityVoiceChat": False}
    # private voice chats do not count here, community ones not there
    assert (await voice_http.get(f"/users/{owner}/voice-chat-status")).json() == {"is_user_in_voice_chat": False}


async def test_speak_requests_promotions_demotions_and_mutes(voice_http: httpx.AsyncClient,
                                                            container: Container) -> None:
    community_id, _ = await _started(voice_http)
    listener = new_address()
    await enter(voice_http, community_id, listener, role="member")
    base = f"/community-voice-chat/{community_id}/users/{listener}"
    async with Recorder(container) as seen:
        answer = await voice_http.post(f"{base}/speak-request")
        assert answer.json() == {"message": "Request to speak sent successfully"}
        assert (await _participant(container, community_id, listener)).hand_raised
        answer = await voice_http.delete(f"{base}/speak-request")
        assert answer.json() == {"message": "Speak request rejected successfully"}
        assert not (await _participant(container, community_id, listener)).hand_raised
        await voice_http.post(f"{base}/speak-request")
        answer = await voice_http.post(f"{base}/speaker")
        assert answer.json() == {"message": "User promoted to speaker successfully"}
        me = await _participant(container, community_id, listener)
        assert (me.role, me.hand_raised) == (SPEAKER, False)
        code = await live_code(container, community_id)
        user_id = await user_id_of(container, listener)
        assert str(user_id) in container.media._publish[code]  # type: ignore[attr-defined]
        answer = await voice_http.patch(f"{base}/mute", json={"muted": True})
        assert answer.json() == {"message": "User muted successfully"}
        assert (await _participant(container, community_id, listener)).muted
        assert str(user_id) not in container.media._publish[code]  # type: ignore[attr-defined]
        answer = await voice_http.patch(f"{base}/mute", json={"muted": False})
        assert answer.json() == {"message": "User unmuted successfully"}
        answer = await voice_http.delete(f"{base}/speaker")
        assert answer.json() == {"message": "User demoted to listener successfully"}
        assert (await _participant(container, community_id, listener)).role == LISTENER
        assert str(user_id) not in container.media._publish[code]  # type: ignore[attr-defined]
    # the rooms core's events: what Clubhouse clients of the same room see
    assert [type(e) for e in seen.events if isinstance(e, ev.RoomEvent) and e.channel == code] == [
        ev.HandRaised, ev.HandLowered, ev.HandRaised, ev.SpeakerAdded, ev.SpeakerMuted, ev.SpeakerRemoved]


async def test_a_speaker_cannot_request_to_speak(voice_http: httpx.AsyncClient) -> None:
    community_id, owner = await _started(voice_http)
    answer = await voice_http.post(f"/community-voice-chat/{community_id}/users/{owner}/speak-request")
    assert answer.status_code == 400
    assert answer.json() == {"error": "Only listeners can request to speak"}


async def test_a_moderator_promoted_speaks_as_a_moderator(voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, _ = await _started(voice_http)
    moderator = new_address()
    await enter(voice_http, community_id, moderator, role="moderator")
    await voice_http.post(f"/community-voice-chat/{community_id}/users/{moderator}/speaker")
    assert (await _participant(container, community_id, moderator)).role == MODERATOR
    await voice_http.delete(f"/community-voice-chat/{community_id}/users/{moderator}/speaker")
    assert (await _participant(container, community_id, moderator)).is_moderator


async def test_kicking_takes_the_user_out_and_they_may_come_back_as_a_listener(
        voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, _ = await _started(voice_http)
    guest = new_address()
    await enter(voice_http, community_id, guest, role="member")
    await voice_http.post(f"/community-voice-chat/{community_id}/users/{guest}/speaker")
    async with Recorder(container) as seen:
        answer = await voice_http.delete(f"/community-voice-chat/{community_id}/users/{guest}")
    assert answer.json() == {"message": "User kicked from voice chat successfully"}
    assert (await _participant(container, community_id, guest)).status == REMOVED
    code = await live_code(container, community_id)
    assert [e.reason for e in seen.of(ev.UserLeft) if e.channel == code] == ["removed"]
    assert len([e for e in seen.of(ev.RemovedFromRoom) if e.channel == code]) == 1
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 1, "moderator_count": 1}
    await enter(voice_http, community_id, guest, role="member")
    assert (await _participant(container, community_id, guest)).role == LISTENER


async def test_kicking_the_last_moderator_ends_the_chat(voice_http: httpx.AsyncClient) -> None:
    community_id, owner = await _started(voice_http)
    await voice_http.delete(f"/community-voice-chat/{community_id}/users/{owner}")
    assert (await status(voice_http, community_id))["active"] is False
    answer = await voice_http.post(f"/community-voice-chat/{community_id}/users/{owner}/speaker")
    assert answer.status_code == 404


async def test_moderation_of_a_missing_chat_or_user_is_not_found(voice_http: httpx.AsyncClient) -> None:
    nowhere, stranger = new_community(), new_address()
    for method, suffix in (("POST", "speak-request"), ("DELETE", "speak-request"), ("POST", "speaker"),
                           ("DELETE", "speaker"), ("DELETE", "")):
        url = f"/community-voice-chat/{nowhere}/users/{stranger}/{suffix}".rstrip("/")
        answer = await voice_http.request(method, url)
        assert answer.status_code == 404
        assert answer.json() == {"error": f"Community voice chat for community {nowhere} not found"}
    community_id, _ = await _started(voice_http)
    answer = await voice_http.patch(f"/community-voice-chat/{community_id}/users/{stranger}/mute",
                                    json={"muted": True})
    assert answer.status_code == 404
    assert answer.json() == {"error": f"User {stranger.lower()} is not in the community voice chat"}


async def test_ending_disconnects_everyone(voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, owner = await _started(voice_http)
    guest = new_address()
    await enter(voice_http, community_id, guest, role="member")
    code = await live_code(container, community_id)
    async with Recorder(container) as seen:
        await voice_http.request("DELETE", f"/community-voice-chat/{community_id}", json={"user_address": owner})
    assert [e.reason for e in seen.of(ev.RoomEnded) if e.channel == code] == ["ended"]
    assert (await voice_http.get(f"/users/{guest}/community-voice-chat-status")).json()["isInCommunityVoiceChat"] is False
    assert code in container.media._ended  # type: ignore[attr-defined]


async def test_joining_a_voice_chat_leaves_the_one_the_user_was_in(voice_http: httpx.AsyncClient) -> None:
    first, _ = await _started(voice_http)
    second, _ = await _started(voice_http)
    guest = new_address()
    await enter(voice_http, first, guest, role="member")
    await enter(voice_http, second, guest, role="member")
    assert (await status(voice_http, first))["participant_count"] == 1
    assert (await status(voice_http, second))["participant_count"] == 2
