"""Real audio through a real Janus: aiortc clients join an AudioBridge room with the credentials the
janus media backend hands out; a speaker sends speech (espeak-ng) or a tone (sox), a listener records,
and the listener's RMS says what was heard. Silence in this mix measures about 3e-6, speech about
0.06 and the tone about 0.25.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from townhall.media.janus import JanusMediaBackend

HEARD = 0.01
SILENT = 0.001
JOIN_TIMEOUT = 20.0


Join = Callable[..., Any]


@pytest.fixture
async def join(backend: JanusMediaBackend, sounds: dict[str, str]) -> AsyncIterator[Join]:
    """``await join(room, user, can_publish=..., send="tone"|"speech"|None)``: a connected AudioClient."""
    from tests.media.audio_client import AudioClient
    from tests.media.janus_secrets import api_secret_of

    clients: list[AudioClient] = []

    async def connect(room_id: str, user_id: str, *, can_publish: bool, send: str | None = None) -> AudioClient:
        credentials = await backend.credentials(room_id, user_id, can_publish=can_publish)
        client = AudioClient(credentials.connection_url, send_wav=sounds[send] if send else None,
                             api_secret=api_secret_of(backend.url))  # direct mode: the backend has no proxy
        clients.append(client)
        await asyncio.wait_for(client.join(), JOIN_TIMEOUT)
        return client

    yield connect
    await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)


async def test_a_speakers_voice_reaches_a_listener(backend: JanusMediaBackend, join: Join, room_id: str) -> None:
    await backend.create_room(room_id)
    listener = await join(room_id, "listener", can_publish=False)
    assert await listener.measure(1.5) < SILENT  # nobody speaks yet
    await join(room_id, "speaker", can_publish=True, send="speech")
    await asyncio.sleep(1.5)  # ICE, DTLS and the first mixed packets
    assert await listener.measure(3.0) > HEARD


async def test_a_moderator_mute_silences_the_speaker_and_unmute_brings_them_back(
    backend: JanusMediaBackend, join: Join, room_id: str
) -> None:
    await backend.create_room(room_id)
    listener = await join(room_id, "listener", can_publish=False)
    await join(room_id, "speaker", can_publish=True, send="tone")
    await asyncio.sleep(1.5)
    assert await listener.measure(2.0) > HEARD
    await backend.set_publish(room_id, "speaker", False)
    await asyncio.sleep(1.0)
    assert await listener.measure(2.0) < SILENT
    await backend.set_publish(room_id, "speaker", True)
    await asyncio.sleep(1.0)
    assert await listener.measure(2.0) > HEARD


async def test_a_listener_cannot_be_heard_until_promoted_even_if_he_unmutes_himself(
    backend: JanusMediaBackend, join: Join, room_id: str
) -> None:
    await backend.create_room(room_id)
    audience = await join(room_id, "audience", can_publish=False)
    sneaky = await join(room_id, "sneaky", can_publish=False, send="tone")  # sends audio, but joined muted
    await asyncio.sleep(1.5)
    assert await audience.measure(2.0) < SILENT
    # The client unmutes itself: the backend knows it as a listener and mutes it again at once.
    await sneaky._post(f"/{sneaky.session}/{sneaky.handle}",
                       {"janus": "message", "body": {"request": "configure", "muted": False}})
    await asyncio.sleep(1.0)
    assert await audience.measure(2.0) < SILENT
    # Promoted by a moderator: now heard.
    await backend.set_publish(room_id, "sneaky", True)
    await asyncio.sleep(1.0)
    assert await audience.measure(2.0) > HEARD


async def test_kick_cuts_the_speakers_audio(backend: JanusMediaBackend, join: Join, room_id: str) -> None:
    await backend.create_room(room_id)
    listener = await join(room_id, "listener", can_publish=False)
    speaker = await join(room_id, "speaker", can_publish=True, send="tone")
    await asyncio.sleep(1.5)
    assert await listener.measure(2.0) > HEARD
    await backend.kick(room_id, "speaker")
    await asyncio.sleep(1.5)  # the kick takes effect in the mixer within about a second
    assert await listener.measure(2.0) < SILENT
    assert speaker.was_kicked()
    assert [p.user_id for p in await backend.participants(room_id)] == ["listener"]


async def test_destroying_the_room_ends_the_audio(backend: JanusMediaBackend, join: Join, room_id: str) -> None:
    await backend.create_room(room_id)
    listener = await join(room_id, "listener", can_publish=False)
    await join(room_id, "speaker", can_publish=True, send="tone")
    await asyncio.sleep(1.5)
    assert await listener.measure(2.0) > HEARD
    await backend.destroy_room(room_id)
    await asyncio.sleep(1.0)
    assert await listener.measure(2.0) < SILENT
