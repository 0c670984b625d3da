"""A process starting with the janus backend follows the live rooms it did not create: the live
runtime watches every live room on Janus, and creates again a room Janus lost."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.media.conftest import make_backend
from tests.media.test_janus_backend import eventually, join_bare, recorder
from townhall.config import MediaSettings, Settings
from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.rooms import actions
from townhall.jobs.live import live_runtime
from townhall.media import MediaEvent
from townhall.media.janus import JanusMediaBackend
from townhall.media.janus_server import JanusServer


async def test_a_new_process_watches_the_live_janus_rooms_and_recreates_one_janus_lost(
    janus: JanusServer, migrated_db_url: str, tmp_path: Path
) -> None:
    state = janus.read_state()
    settings = Settings(data_dir=tmp_path, database_url=migrated_db_url, log_format="text", media=MediaSettings(
        backend="janus", janus_url=state["url"], janus_admin_key=state["admin_key"], janus_api_secret=state["api_secret"],
        secret="watch-secret", janus_proxy=False))  # direct mode: join_bare talks to Janus itself
    first = Container.build(settings)
    await first.start()
    try:
        async with first.uow() as uow:
            ada, bob = await accounts.upsert_chat_users(uow, [
                accounts.UserFields(chat_id=f"watch-{secrets.token_hex(4)}", name=name) for name in ("ada", "bob")])
        kept = (await actions.create(first.uow, first.media, ada.id)).room
        lost = (await actions.create(first.uow, first.media, bob.id)).room
        assert kept.media_backend == "janus"
    finally:
        await first.close()  # the process that created them stops
    janitor = make_backend(janus, secret="watch-secret")
    await janitor.start()
    await janitor.destroy_room(lost.code)  # Janus lost this one (as after a restart)
    await janitor.close()

    second = Container.build(settings)
    await second.start()
    try:
        media = second.media
        assert isinstance(media, JanusMediaBackend)
        events = recorder(media)
        async with live_runtime(second):
            await eventually(lambda: {kept.code, lost.code} <= set(media._rooms), timeout=20, what="both rooms watched")
            assert await media.participants(lost.code) == []  # exists again
            credentials = await media.credentials(kept.code, str(ada.id), can_publish=True)
            person = await join_bare(media.url, credentials.connection_url)
            try:
                await eventually(lambda: MediaEvent("joined", kept.code, str(ada.id)) in events, what="ada joined")
            finally:
                await person.close()
    finally:
        await second.close()
