"""Community voice chat credentials with the janus media backend: the ``connection_url`` lets a real
WebRTC client (aiortc) into the chat's AudioBridge room (a listener muted), Janus's join makes the
participant ``connected`` and its leave takes them out of it; ending the chat closes its AudioBridge
room. Janus missing skips this (see tests/media)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.social.rooms.test_social_rooms_janus import janus_app  # noqa: F401  (the fixture)
from townhall.container import Container
from townhall.core.rooms import service, voice
from townhall.core.rooms.models import COMMUNITY, CONNECTED, INTERRUPTED, LEFT


async def _status(container: Container, community_id: str, address: str) -> str | None:
    async with container.read() as conn:
        room = await voice.live_room(conn, COMMUNITY, community_id)
        if room is None:
            return None
        user_id = (await voice.users_of_addresses(conn, [address]))[address]
        found = await service.participant(conn, room.id, user_id)
    return found.status if found else None


async def _until(container: Container, community_id: str, address: str, wanted: str | None) -> str | None:
    for _ in range(100):
        if (found := await _status(container, community_id, address)) == wanted:
            return found
        await asyncio.sleep(0.1)
    return await _status(container, community_id, address)


async def _until_not(container: Container, community_id: str, address: str, unwanted: str) -> str | None:
    for _ in range(100):
        if (found := await _status(container, community_id, address)) != unwanted:
            return found
        await asyncio.sleep(0.1)
    return await _status(container, community_id, address)


async def test_voice_chat_credentials_let_clients_into_the_audiobridge_room(
        janus_app: tuple[FastAPI, Container]) -> None:  # noqa: F811
    from tests.media.audio_client import AudioClient, parse_connection_url

    app, container = janus_app
    headers = {"Authorization": f"Bearer {container.credentials.voice_service_token}"}
    transport = httpx.ASGITransport(app=app)
    community_id = f"c-{uuid.uuid4()}"
    owner, guest = "0x" + secrets.token_hex(20), "0x" + secrets.token_hex(20)
    clients: list[Any] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://townhall.test/voice", headers=headers) as http:
        try:
            made = await http.post("/community-voice-chat", json={
                "community_id": community_id, "user_address": owner, "action": "create", "user_role": "owner"})
            joined = await http.post("/community-voice-chat", json={
                "community_id": community_id, "user_address": guest, "action": "join", "user_role": "member"})
            assert made.status_code == joined.status_code == 200
            speaker_url, listener_url = made.json()["connection_url"], joined.json()["connection_url"]
            assert speaker_url.startswith("janus:")
            assert parse_connection_url(speaker_url)["muted"] == "false"
            assert parse_connection_url(listener_url)["muted"] == "true"
            speaker, listener = AudioClient(speaker_url), AudioClient(listener_url)
            clients += [speaker, listener]
            for client in (speaker, listener):
                event = await asyncio.wait_for(client.join(), 20)
                assert event["plugindata"]["data"]["audiobridge"] == "joined"
            assert await _until(container, community_id, owner, CONNECTED) == CONNECTED
            assert await _until(container, community_id, guest, CONNECTED) == CONNECTED
            # the listener hangs up: no longer connected (Janus cannot tell a hang-up from a drop, so
            # the grace period may run); the chat goes on
            await asyncio.wait_for(listener.close(), 10)
            clients.remove(listener)
            assert await _until_not(container, community_id, guest, CONNECTED) in (LEFT, INTERRUPTED)
            assert (await _status(container, community_id, owner)) == CONNECTED
            ended = await http.request("DELETE", f"/community-voice-chat/{community_id}",
                                       json={"user_address": owner})
            assert ended.status_code == 200
            assert await _status(container, community_id, owner) is None
            assert (await http.get(f"/community-voice-chat/{community_id}/status")).json()["active"] is False
        finally:
            await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)
