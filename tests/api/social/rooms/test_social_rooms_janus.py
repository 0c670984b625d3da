"""join_channel with the janus media backend: the ``token`` it answers lets a real WebRTC client
(aiortc) join the room's Janus AudioBridge room; a listener joins muted, and the media server's
join and leave events reach the rooms' presence. Janus missing skips this (see tests/media)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from tests.media.serving import serving
from townhall.app import create_app
from townhall.config import MediaSettings, Settings
from townhall.container import Container
from townhall.core.rooms import service as rooms
from townhall.core.rooms.models import INTERRUPTED, JOINED


@pytest.fixture(scope="module")
async def janus_app(settings: Settings, migrated_db_url: str,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[FastAPI, Container]]:
    from tests.media.conftest import require_janus
    from townhall.media.janus_server import JanusServer, JanusServerError, free_port

    require_janus()
    try:
        import aiortc  # noqa: F401
    except ImportError as exc:
        from tests.conftest import service_unavailable

        service_unavailable(f"this test needs aiortc ({exc})")
    server = JanusServer(tmp_path_factory.mktemp("janus-rooms"))
    try:
        server.start(loopback_ice=True, http_port=free_port(), admin_port=free_port())
    except JanusServerError as exc:
        pytest.fail(f"could not start Janus: {exc}", pytrace=False)
    state = server.read_state()
    port = free_port()  # clients signal through townhall's Janus proxy: served over real HTTP
    media = MediaSettings(backend="janus", janus_url=state["url"], janus_admin_key=state["admin_key"],
                          janus_api_secret=state["api_secret"], secret="rooms-test-secret")
    with_janus = settings.model_copy(update={"host": "127.0.0.1", "port": port, "public_url": None, "media": media})
    built = Container.build(with_janus)
    await built.start()
    application = create_app(with_janus, built)
    try:
        async with application.router.lifespan_context(application), serving(application, port):
            yield application, built
    finally:
        await built.close()
        server.stop()


async def _status(container: Container, code: str, user_id: int) -> str | None:
    async with container.read() as conn:
        room = await rooms.get_room(conn, code=code)
        found = await rooms.participant(conn, room.id, user_id)
    return found.status if found else None


async def test_join_channels_token_lets_a_client_into_the_audiobridge_room(
        janus_app: tuple[FastAPI, Container], signer: Any) -> None:
    from tests.media.audio_client import AudioClient, parse_connection_url

    app, container = janus_app
    ada = await signer(app, container, "Ada")
    bob = await signer(app, container, "Bob")
    clients: list[AudioClient] = []
    try:
        made = await ada.ok("create_channel", {"topic": "on janus"})
        assert made["token"].startswith("janus:")
        joined = await bob.ok("join_channel", {"channel": made["channel"]})
        params = parse_connection_url(joined["token"])
        assert params["muted"] == "true"  # a listener
        assert parse_connection_url(made["token"])["muted"] == "false"  # the moderator speaks
        listener = AudioClient(joined["token"])
        clients.append(listener)
        event = await asyncio.wait_for(listener.join(), 20)
        assert event["plugindata"]["data"]["audiobridge"] == "joined"
        # Janus's join event reaches presence; a leave marks the listener interrupted (grace)
        for _ in range(50):
            if await _status(container, made["channel"], bob.user_id) == JOINED:
                break
            await asyncio.sleep(0.1)
        await asyncio.wait_for(listener.close(), 10)
        clients.clear()
        for _ in range(100):
            if await _status(container, made["channel"], bob.user_id) == INTERRUPTED:
                break
            await asyncio.sleep(0.1)
        assert await _status(container, made["channel"], bob.user_id) == INTERRUPTED
        await ada.ok("end_channel", {"channel": made["channel"]})
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)
        await ada.http.aclose()
        await bob.http.aclose()
