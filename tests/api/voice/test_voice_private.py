"""Private 1:1 voice chats over HTTP: credentials for both users, the users' status, ending, media
events and the expiry job."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.api.voice.conftest import age, live_code, new_address, user_id_of
from townhall.container import Container
from townhall.core.rooms import actions, service, voice
from townhall.core.rooms.models import CONNECTED, VOICE_PRIVATE
from townhall.media.base import MediaEvent

GONE = timedelta(minutes=5, seconds=30)


def _room_id() -> str:
    return f"private-{new_address()[2:12]}"


async def _create(http: httpx.AsyncClient, room_id: str, a: str, b: str) -> httpx.Response:
    return await http.post("/private-voice-chat", json={"user_addresses": [a, b], "room_id": room_id})


async def _in_chat(http: httpx.AsyncClient, address: str) -> bool:
    return (await http.get(f"/users/{address}/voice-chat-status")).json()["is_user_in_voice_chat"]  # type: ignore[no-any-return]


async def _live(container: Container, room_id: str) -> bool:
    async with container.read() as conn:
        return await voice.live_room(conn, VOICE_PRIVATE, room_id) is not None


async def test_both_users_get_credentials_and_are_in_the_chat(voice_http: httpx.AsyncClient,
                                                              container: Container) -> None:
    room_id, a, b = _room_id(), new_address(), new_address()
    answer = await _create(voice_http, room_id, a, b)
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == [a.lower(), b.lower()]
    assert all(set(v) == {"connection_url"} and "publish=true" in v["connection_url"] for v in body.values())
    assert await _in_chat(voice_http, a) and await _in_chat(voice_http, b)
    assert not await _in_chat(voice_http, new_address())
    # asking again for the same two users answers credentials again; other users may not take the id
    assert (await _create(voice_http, room_id, b, a)).status_code == 200
    taken = await _create(voice_http, room_id, a, new_address())
    assert (taken.status_code, taken.json()) == (400, {"error": f"Room {room_id} already exists"})


async def test_credentials_asked_again_keep_a_connected_user_connected(voice_http: httpx.AsyncClient,
                                                                       container: Container) -> None:
    room_id, a, b = _room_id(), new_address(), new_address()
    assert (await _create(voice_http, room_id, a, b)).status_code == 200
    code = await live_code(container, room_id, VOICE_PRIVATE)
    for address in (a, b):
        assert await container.media.simulate_join(code, str(await user_id_of(container, address)))  # type: ignore[attr-defined]
    assert (await _create(voice_http, room_id, a, b)).status_code == 200
    async with container.read() as conn:
        room = await voice.live_room(conn, VOICE_PRIVATE, room_id)
        assert room is not None
        statuses = [(await service.participant(conn, room.id, await user_id_of(container, x))) for x in (a, b)]
    assert [part.status for part in statuses if part is not None] == [CONNECTED, CONNECTED]


async def test_ending_answers_who_was_in_it(voice_http: httpx.AsyncClient, container: Container) -> None:
    room_id, a, b = _room_id(), new_address(), new_address()
    await _create(voice_http, room_id, a, b)
    stranger = await voice_http.request("DELETE", f"/private-voice-chat/{room_id}", json={"address": new_address()})
    assert (stranger.status_code, stranger.json()) == (404, {"error": f"Room {room_id} does not exist"})
    answer = await voice_http.request("DELETE", f"/private-voice-chat/{room_id}", json={"address": b})
    assert answer.status_code == 200
    assert answer.json() == {"users_in_voice_chat": [a.lower(), b.lower()]}
    assert not await _live(container, room_id)
    assert not await _in_chat(voice_http, a)
    again = await voice_http.request("DELETE", f"/private-voice-chat/{room_id}", json={"address": b})
    assert again.status_code == 404


async def test_leaving_on_purpose_ends_a_private_chat_and_a_drop_does_not(voice_http: httpx.AsyncClient,
                                                                          container: Container) -> None:
    room_id, a, b = _room_id(), new_address(), new_address()
    await _create(voice_http, room_id, a, b)
    code = await live_code(container, room_id, VOICE_PRIVATE)
    handler = actions.media_event_handler(container.uow, container.media)
    ua, ub = str(await user_id_of(container, a)), str(await user_id_of(container, b))
    assert await container.media.simulate_join(code, ua)  # type: ignore[attr-defined]
    assert await container.media.simulate_join(code, ub)  # type: ignore[attr-defined]
    await handler(MediaEvent("left", code, ub))  # dropped: interrupted, the chat holds
    assert await _live(container, room_id) and await _in_chat(voice_http, b)
    await handler(MediaEvent("left", code, ua, voluntary=True))
    assert not await _live(container, room_id)
    assert code in container.media._ended  # type: ignore[attr-defined]


async def test_joining_a_private_chat_that_lost_a_user_ends_it(voice_http: httpx.AsyncClient,
                                                              container: Container) -> None:
    room_id, a, b = _room_id(), new_address(), new_address()
    await _create(voice_http, room_id, a, b)
    code = await live_code(container, room_id, VOICE_PRIVATE)
    await age(container, room_id, b, GONE, kind=VOICE_PRIVATE)  # b never connected
    handler = actions.media_event_handler(container.uow, container.media)
    await handler(MediaEvent("joined", code, str(await user_id_of(container, a))))
    assert not await _live(container, room_id)


async def test_the_expiry_job_ends_private_chats_a_user_never_joined(voice_http: httpx.AsyncClient,
                                                                    container: Container) -> None:
    stale, fresh = _room_id(), _room_id()
    a, b, c, d = (new_address() for _ in range(4))
    await _create(voice_http, stale, a, b)
    await _create(voice_http, fresh, c, d)
    await age(container, stale, b, GONE, kind=VOICE_PRIVATE)
    ended = [r.external_id for r in await actions.expire(container.uow, container.media)]
    assert fresh not in ended  # (the app's own expiry job may have ended the stale one first)
    assert not await _live(container, stale) and await _live(container, fresh)
    assert not await _in_chat(voice_http, a)
    assert await _in_chat(voice_http, c)
