"""Large Janus rooms: once the AudioBridge holds ``large_room_listeners`` listeners, further listeners
get the room's mix from a Streaming mountpoint fed by one ``rtp_forward`` (encoded once). Real audio:
an aiortc speaker in the bridge, an aiortc viewer of the mountpoint hears it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.media.conftest import make_backend
from tests.media.janus_secrets import api_secret_of
from tests.media.test_janus_backend import join_bare, query_of
from townhall.config import MediaSettings, Settings
from townhall.media import MediaError, create_media_backend
from townhall.media.janus import STREAMING_PLUGIN, JanusClient, JanusMediaBackend
from townhall.media.janus_server import JanusServer

HEARD = 0.01
JOIN_TIMEOUT = 20.0


@pytest.fixture
async def large(janus: JanusServer) -> AsyncIterator[JanusMediaBackend]:
    """A janus backend whose rooms carry one listener in the bridge; the next ones watch the mountpoint."""
    built = make_backend(janus, large_room_listeners=1)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def forwarders(backend: JanusMediaBackend, room_id: str) -> list[dict[str, Any]]:
    data = await backend._request({"request": "listforwarders", "room": backend.room_number(room_id),
                                   "secret": backend.room_secret(room_id)})
    return list(data.get("rtp_forwarders", []))


async def test_a_listener_beyond_the_threshold_hears_the_speaker_from_the_streaming_mountpoint(
    large: JanusMediaBackend, sounds: dict[str, str], room_id: str
) -> None:
    from tests.media.audio_client import AudioClient, StreamClient, client_for

    await large.create_room(room_id)
    clients: list[AudioClient | StreamClient] = []
    try:
        direct = api_secret_of(large.url)  # direct mode (through the proxy: test_janus_proxy)
        speaker = client_for((await large.credentials(room_id, "speaker", can_publish=True)).connection_url,
                             send_wav=sounds["tone"], api_secret=direct)
        clients.append(speaker)
        await asyncio.wait_for(speaker.join(), JOIN_TIMEOUT)
        first = await large.credentials(room_id, "first", can_publish=False)
        assert "room" in query_of(first.connection_url) and "stream" not in query_of(first.connection_url)
        bridge_listener = client_for(first.connection_url, api_secret=direct)
        clients.append(bridge_listener)
        await asyncio.wait_for(bridge_listener.join(), JOIN_TIMEOUT)

        beyond = await large.credentials(room_id, "second", can_publish=False)
        query = query_of(beyond.connection_url)
        assert set(query) == {"stream", "pin"} and beyond.connection_url.startswith(f"janus:{large.public_url}?")
        assert (beyond.can_publish, beyond.extra["plugin"], beyond.media_room) == (
            False, STREAMING_PLUGIN, str(large.room_number(room_id)))
        viewer = client_for(beyond.connection_url, api_secret=direct)
        assert isinstance(viewer, StreamClient)
        clients.append(viewer)
        await asyncio.wait_for(viewer.join(), JOIN_TIMEOUT)
        await asyncio.sleep(1.5)  # ICE, DTLS and the first forwarded packets
        assert await viewer.measure(3.0) > HEARD
        assert bridge_listener.rms(0, float("inf")) > HEARD  # the bridge listener hears the same room
        assert [p.user_id for p in await large.participants(room_id)] == ["first", "speaker"]  # not "second"
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)


async def test_speakers_and_listeners_already_in_the_bridge_always_get_bridge_credentials(
    large: JanusMediaBackend, room_id: str
) -> None:
    await large.create_room(room_id)
    first = await large.credentials(room_id, "first", can_publish=False)
    bare = await join_bare(large.url, first.connection_url)
    try:
        again = await large.credentials(room_id, "first", can_publish=False)  # keeps its place in the bridge
        assert "room" in query_of(again.connection_url)
        listener = await large.credentials(room_id, "listener", can_publish=False)
        assert "stream" in query_of(listener.connection_url)
        promoted = await large.credentials(room_id, "listener", can_publish=True)  # promotion: into the bridge
        assert "room" in query_of(promoted.connection_url) and promoted.can_publish
        promoted_client = await join_bare(large.url, promoted.connection_url)
        assert promoted_client.joined.get("audiobridge") == "joined"
        await promoted_client.close()
    finally:
        await bare.close()


async def test_a_listener_kept_off_the_stream_joins_the_bridge_however_full(
    large: JanusMediaBackend, room_id: str
) -> None:
    await large.create_room(room_id)
    bare = await join_bare(large.url, (await large.credentials(room_id, "first", can_publish=False)).connection_url)
    try:
        kept = await large.credentials(room_id, "moderator", can_publish=False, allow_stream=False)
        assert "room" in query_of(kept.connection_url) and kept.extra["plugin"] != STREAMING_PLUGIN
        assert await forwarders(large, room_id) == []  # no stream was made for it
    finally:
        await bare.close()


async def test_one_mountpoint_and_one_forwarder_per_room_whichever_processes_ask(
    janus: JanusServer, large: JanusMediaBackend, room_id: str
) -> None:
    other = make_backend(janus, large_room_listeners=1)  # another process with the same media secret
    await other.start()
    await large.create_room(room_id)
    bare = await join_bare(large.url, (await large.credentials(room_id, "first", can_publish=False)).connection_url)
    try:
        answers = await asyncio.gather(*(backend.credentials(room_id, f"user-{i}", can_publish=False)
                                         for i, backend in enumerate([large, other, large, other])))
        assert {query_of(a.connection_url)["stream"] for a in answers} == {str(large.stream_number(room_id))}
        assert len({query_of(a.connection_url)["pin"] for a in answers}) == 1
        assert len(await forwarders(large, room_id)) == 1

        await other.destroy_room(room_id)  # the mountpoint goes with the room
        with pytest.raises(MediaError) as gone:
            await large._request({"request": "info", "id": large.stream_number(room_id),
                                  "secret": large.stream_secret(room_id)}, streaming=True)
        assert gone.value.code == 455
    finally:
        await bare.close()
        await other.close()


async def watch_answer(url: str, connection_url: str, **overrides: Any) -> dict[str, Any]:
    """What Janus answers a viewer ``watch``ing the mountpoint of ``connection_url`` (signalling only)."""
    query = query_of(connection_url)
    client = JanusClient(url, api_secret=api_secret_of(url))
    try:
        session = await client.create_session()
        handle = await client.attach(session, STREAMING_PLUGIN)
        await client.message(session, handle, {"request": "watch", "id": int(query["stream"]), "pin": query["pin"],
                                               **overrides})
        for _ in range(20):
            for event in await client.poll(session):
                data = event.get("plugindata", {}).get("data", {})
                if event.get("sender") == handle and data:
                    return {**data, "jsep": event.get("jsep")}
        raise AssertionError("no answer to watch")
    finally:
        await client.close()


async def test_the_mountpoint_offers_audio_with_its_pin_and_refuses_a_wrong_one(
    large: JanusMediaBackend, room_id: str
) -> None:
    await large.create_room(room_id)
    bare = await join_bare(large.url, (await large.credentials(room_id, "first", can_publish=False)).connection_url)
    try:
        beyond = await large.credentials(room_id, "second", can_publish=False)
        offered = await watch_answer(large.url, beyond.connection_url)
        assert offered.get("result", {}).get("status") == "preparing" and "m=audio" in offered["jsep"]["sdp"]
        refused = await watch_answer(large.url, beyond.connection_url, pin="guess")
        assert refused.get("error_code") == 457  # unauthorized
    finally:
        await bare.close()


async def test_without_a_threshold_every_listener_joins_the_bridge(backend: JanusMediaBackend, room_id: str) -> None:
    await backend.create_room(room_id)
    people = [await join_bare(backend.url, (await backend.credentials(room_id, f"u{i}", can_publish=False)
                                            ).connection_url) for i in range(3)]
    try:
        assert "room" in query_of((await backend.credentials(room_id, "u9", can_publish=False)).connection_url)
        assert await forwarders(backend, room_id) == []
    finally:
        for person in people:
            await person.close()


def test_the_threshold_comes_from_the_media_settings(janus: JanusServer) -> None:
    state = janus.read_state()
    assert MediaSettings().large_room_listeners == 0
    settings = Settings(media=MediaSettings(backend="janus", janus_url=state["url"], janus_admin_key=state["admin_key"],
                                            large_room_listeners=40))
    built = create_media_backend(settings, "chat-secret")
    assert isinstance(built, JanusMediaBackend) and built.large_room_listeners == 40
