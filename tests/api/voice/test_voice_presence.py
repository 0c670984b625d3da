"""Who counts as present in a community voice chat, what makes a chat active, what media events do,
and the expiry job (notes/voice.md), over HTTP; time passes by moving a participant's last status
change back (``age``). Also the two queries the reference gets wrong (missing parentheses)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.api.voice.conftest import age, enter, live_code, new_address, new_community, status, user_id_of
from tests.recorder import Recorder
from townhall.container import Container
from townhall.core.rooms import actions, service, voice
from townhall.core.rooms import events as ev
from townhall.core.rooms.models import COMMUNITY, CONNECTED, INTERRUPTED, JOINED, LEFT
from townhall.media.base import MediaEvent
from townhall.media.null import NullMediaBackend

GONE = timedelta(minutes=5, seconds=30)
RECENT = timedelta(minutes=4)
INACTIVE = {"active": False, "participant_count": 0, "moderator_count": 0}


async def _wire_status(container: Container, community_id: str, address: str) -> str:
    async with container.read() as conn:
        room = await voice.live_room(conn, COMMUNITY, community_id)
        assert room is not None
        part = await service.participant(conn, room.id, await user_id_of(container, address))
    assert part is not None
    return voice.wire_status(part.status)


async def _connect(container: Container, community_id: str, address: str) -> None:
    code = await live_code(container, community_id)
    assert await container.media.simulate_join(code, str(await user_id_of(container, address)))  # type: ignore[attr-defined]


async def _leave(container: Container, community_id: str, address: str, *, voluntary: bool) -> None:
    handler = actions.media_event_handler(container.uow, container.media)
    code = await live_code(container, community_id)
    await handler(MediaEvent("left", code, str(await user_id_of(container, address)), voluntary=voluntary))


async def _in_chat(http: httpx.AsyncClient, address: str) -> bool:
    answer = await http.get(f"/users/{address}/community-voice-chat-status")
    return answer.json()["isInCommunityVoiceChat"]  # type: ignore[no-any-return]


async def _listed(http: httpx.AsyncClient, community_id: str) -> bool:
    answer = await http.get("/community-voice-chat/active")
    return community_id in [c["communityId"] for c in answer.json()["data"]]


async def test_credentials_count_as_present_for_five_minutes(voice_http: httpx.AsyncClient,
                                                            container: Container) -> None:
    community_id, owner = new_community(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    assert await _wire_status(container, community_id, owner) == "not_connected"
    await age(container, community_id, owner, RECENT)
    assert (await status(voice_http, community_id))["active"] is True
    await age(container, community_id, owner, GONE - RECENT)
    assert await status(voice_http, community_id) == INACTIVE
    assert not await _in_chat(voice_http, owner)
    assert not await _listed(voice_http, community_id)


async def test_a_connected_participant_stays_present_however_long(voice_http: httpx.AsyncClient,
                                                                  container: Container) -> None:
    community_id, owner = new_community(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await _connect(container, community_id, owner)
    assert await _wire_status(container, community_id, owner) == "connected"
    await age(container, community_id, owner, timedelta(hours=3))
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 1, "moderator_count": 1}
    assert await _in_chat(voice_http, owner)
    ended = await actions.expire(container.uow, container.media)
    assert await live_code(container, community_id) not in [r.code for r in ended]


async def test_credentials_asked_again_while_connected_keep_the_user_connected(voice_http: httpx.AsyncClient,
                                                                              container: Container) -> None:
    community_id, owner, guest = new_community(), new_address(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await _connect(container, community_id, owner)
    await enter(voice_http, community_id, guest, role="member")
    # the calling service asks again (a page reload, a token refresh): the media connection is untouched
    assert (await enter(voice_http, community_id, owner, role="owner")).status_code == 200
    assert (await enter(voice_http, community_id, guest, role="member")).status_code == 200
    assert await _wire_status(container, community_id, owner) == "connected"
    assert await _wire_status(container, community_id, guest) == "not_connected"
    await age(container, community_id, owner, timedelta(minutes=6))
    code = await live_code(container, community_id)
    assert code not in [r.code for r in await actions.expire(container.uow, container.media)]
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 2, "moderator_count": 1}


async def test_the_expiry_job_lets_a_connection_the_media_server_no_longer_has_go(voice_http: httpx.AsyncClient,
                                                                                  container: Container) -> None:
    community_id, owner = new_community(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await _connect(container, community_id, owner)
    await age(container, community_id, owner, RECENT)
    await actions.expire(container.uow, container.media)  # recently confirmed: not asked about
    assert await _wire_status(container, community_id, owner) == "connected"
    await age(container, community_id, owner, GONE)
    # the media server lost them and nobody heard (townhall or the media server restarted, a lost webhook)
    forgetful = NullMediaBackend()
    await actions.expire(container.uow, forgetful)
    assert await _wire_status(container, community_id, owner) == "connection_interrupted"  # the grace runs
    await age(container, community_id, owner, GONE)
    code = await live_code(container, community_id)
    ended = await actions.expire(container.uow, forgetful)
    assert code in [r.code for r in ended]
    assert await status(voice_http, community_id) == INACTIVE


async def test_an_interrupted_participant_is_present_for_the_grace_period(voice_http: httpx.AsyncClient,
                                                                          container: Container) -> None:
    community_id, owner = new_community(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await _connect(container, community_id, owner)
    await _leave(container, community_id, owner, voluntary=False)
    assert await _wire_status(container, community_id, owner) == "connection_interrupted"
    await age(container, community_id, owner, RECENT)
    assert (await status(voice_http, community_id))["active"] is True
    # back within the grace period: connected again
    await _connect(container, community_id, owner)
    assert await _wire_status(container, community_id, owner) == "connected"
    await _leave(container, community_id, owner, voluntary=False)
    await age(container, community_id, owner, GONE)
    assert await status(voice_http, community_id) == INACTIVE


async def test_the_last_present_moderator_leaving_on_purpose_ends_the_chat_for_everyone(
        voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, owner, moderator, listener = new_community(), new_address(), new_address(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await enter(voice_http, community_id, moderator, role="moderator")
    await enter(voice_http, community_id, listener, role="member")
    for who in (owner, moderator, listener):
        await _connect(container, community_id, who)
    # a listener leaving is just gone
    await _leave(container, community_id, listener, voluntary=True)
    assert await _wire_status(container, community_id, listener) == "disconnected"
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 2, "moderator_count": 2}
    # one of two moderators leaving: the other keeps the chat
    await _leave(container, community_id, moderator, voluntary=True)
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 1, "moderator_count": 1}
    code = await live_code(container, community_id)
    async with Recorder(container) as seen:
        await _leave(container, community_id, owner, voluntary=True)
    assert [e.reason for e in seen.of(ev.RoomEnded) if e.channel == code] == ["last_moderator_left"]
    assert await status(voice_http, community_id) == INACTIVE
    assert code in container.media._ended  # type: ignore[attr-defined]


async def test_a_moderator_leaving_on_purpose_while_another_only_holds_credentials_keeps_the_chat(
        voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, owner, moderator = new_community(), new_address(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await enter(voice_http, community_id, moderator, role="moderator")  # not connected yet: present
    await _connect(container, community_id, owner)
    await _leave(container, community_id, owner, voluntary=True)
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 1, "moderator_count": 1}


async def test_the_expiry_job_ends_chats_without_a_present_moderator(voice_http: httpx.AsyncClient,
                                                                     container: Container) -> None:
    # (the app's own expiry job may run meanwhile: what is checked is the state it all leaves)
    unmoderated, abandoned, kept = new_community(), new_community(), new_community()
    member, owner, keeper = new_address(), new_address(), new_address()
    await enter(voice_http, unmoderated, member, role="member")  # a chat without any moderator
    await enter(voice_http, abandoned, owner, action="create", role="owner")
    await enter(voice_http, abandoned, new_address(), role="member")
    await age(container, abandoned, owner, GONE)
    await enter(voice_http, kept, keeper, action="create", role="moderator")
    kept_code = await live_code(container, kept)
    ended = [r.code for r in await actions.expire(container.uow, container.media)]
    assert kept_code not in ended
    async with container.read() as conn:
        assert await voice.live_room(conn, COMMUNITY, unmoderated) is None
        assert await voice.live_room(conn, COMMUNITY, abandoned) is None
        assert await voice.live_room(conn, COMMUNITY, kept) is not None


async def test_the_expiry_job_lets_stale_credentials_go(voice_http: httpx.AsyncClient, container: Container) -> None:
    community_id, owner, guest = new_community(), new_address(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await _connect(container, community_id, owner)
    await enter(voice_http, community_id, guest, role="member")
    await age(container, community_id, guest, GONE)
    await actions.expire(container.uow, container.media)
    assert await _wire_status(container, community_id, guest) == "disconnected"
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 1, "moderator_count": 1}


async def test_a_user_is_not_in_a_chat_because_someone_else_recently_was(voice_http: httpx.AsyncClient,
                                                                         container: Container) -> None:
    # the reference's query (AND binds tighter than OR) answers yes for ANY recently issued row
    community_id, owner, left_long_ago = new_community(), new_address(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await enter(voice_http, community_id, left_long_ago, role="member")
    await age(container, community_id, left_long_ago, GONE)
    await enter(voice_http, new_community(), new_address(), role="member")  # someone else, just now
    assert not await _in_chat(voice_http, left_long_ago)
    assert await _in_chat(voice_http, owner)


async def test_a_chat_is_not_active_because_a_listener_recently_joined(voice_http: httpx.AsyncClient,
                                                                       container: Container) -> None:
    # the reference's active list counts a room whose moderators are gone when any row is recent
    community_id, owner = new_community(), new_address()
    await enter(voice_http, community_id, owner, action="create", role="owner")
    await age(container, community_id, owner, GONE)
    await enter(voice_http, community_id, new_address(), role="member")
    assert not await _listed(voice_http, community_id)
    assert await status(voice_http, community_id) == INACTIVE
    answer = await voice_http.post("/community-voice-chat/status", json={"community_ids": [community_id]})
    assert answer.json()["data"][0]["active"] is False


def test_statuses_map_to_the_wire() -> None:
    assert [voice.wire_status(s) for s in (JOINED, CONNECTED, INTERRUPTED, LEFT, "removed")] == [
        "not_connected", "connected", "connection_interrupted", "disconnected", "disconnected"]
