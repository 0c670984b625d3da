"""The live-media runtime of a process runs the rooms' expiry job periodically and, at start, watches
the live rooms its media backend carries."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from unittest.mock import patch

from sqlalchemy import update

from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.clock import now
from townhall.core.rooms import actions
from townhall.core.rooms import service as rooms
from townhall.core.rooms.models import CONNECTED, INTERRUPTED, Room
from townhall.core.rooms.tables import room_participants
from townhall.core.rooms.tables import rooms as rooms_table
from townhall.jobs.live import MIN_CALLS_TICK, calls_tick, live_runtime, watch_live_rooms
from townhall.media import MediaRoom, MediaRoomNotFound, MediaUnavailable, NullMediaBackend
from townhall.media.base import MediaParticipant


async def test_the_expiry_loop_ends_rooms_whose_moderators_are_gone(container: Container) -> None:
    async with container.uow() as uow:
        (ada,) = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=f"exp-{now().timestamp()}",
                                                                            name="ada")])
    room = (await actions.create(container.uow, container.media, ada.id)).room
    async with container.uow() as uow:  # ada stopped pinging ten minutes ago
        await uow.conn.execute(update(room_participants).where(room_participants.c.room_id == room.id).values(
            last_seen_at=now() - timedelta(minutes=10)))
    async with live_runtime(container, tick=0.05):
        for _ in range(100):
            async with container.read() as conn:
                if not (await rooms.get_room(conn, room_id=room.id)).is_live:
                    break
            await asyncio.sleep(0.05)
    async with container.read() as conn:
        assert not (await rooms.get_room(conn, room_id=room.id)).is_live


class RecordingMedia(NullMediaBackend):
    """The null backend, recording ``watch``/``create_room`` calls; ``lost`` rooms are unknown to it and
    the first ``down`` watches fail as if the media server were unreachable."""

    def __init__(self, *, lost: set[str] | None = None, down: int = 0) -> None:
        super().__init__()
        self.lost, self.down = lost or set(), down
        self.watched: list[str] = []
        self.created: list[str] = []
        self.running = self.most_at_once = 0

    async def watch(self, room_id: str) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(0.01)
            if self.down:
                self.down -= 1
                raise MediaUnavailable("down")
            self.watched.append(room_id)
            if room_id in self.lost:
                raise MediaRoomNotFound(f"no media room {room_id}")
        finally:
            self.running -= 1

    async def create_room(self, room_id: str) -> MediaRoom:
        self.created.append(room_id)
        return await super().create_room(room_id)


async def live_rooms(container: Container, count: int) -> list[Room]:
    """``count`` live rooms, each created by a user of its own (a user is in one room at a time)."""
    tag = secrets.token_hex(4)
    async with container.uow() as uow:
        users = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=f"watch-{tag}-{i}", name=f"u{i}")
                                                       for i in range(count)])
    return [(await actions.create(container.uow, container.media, user.id)).room for user in users]


async def test_live_rooms_on_this_media_backend_are_watched_and_lost_ones_created_again(
    make_container: Callable[..., Awaitable[Container]],
) -> None:
    container = await make_container()
    media = container.media = RecordingMedia()
    first, lost, ended, elsewhere = await live_rooms(container, 4)
    await actions.end(container.uow, media, ended.creator_id, ended.code)
    async with container.uow() as uow:  # a room another process carries on LiveKit
        await uow.conn.execute(update(rooms_table).where(rooms_table.c.id == elsewhere.id).values(
            media_backend="livekit"))
    media.lost, media.created = {lost.code}, []
    watched, unreachable = await watch_live_rooms(container)
    assert {first.code, lost.code} <= set(media.watched)
    assert ended.code not in media.watched and elsewhere.code not in media.watched
    assert media.created == [lost.code] and unreachable == 0 and watched == len(media.watched)


class ListingMedia(RecordingMedia):
    """A media server that has exactly ``has[room]`` in each room (whoever was reported joining)."""

    def __init__(self) -> None:
        super().__init__()
        self.has: dict[str, set[str]] = {}

    async def participants(self, room_id: str) -> list[MediaParticipant]:
        return [MediaParticipant(user_id, muted=True) for user_id in sorted(self.has.get(room_id, ()))]


async def test_watching_a_room_lets_connections_the_media_server_lost_meanwhile_go(
    make_container: Callable[..., Awaitable[Container]],
) -> None:
    container = await make_container()
    media = container.media = ListingMedia()
    community_id = f"c-{secrets.token_hex(4)}"
    stayed, left = "0x" + secrets.token_hex(20), "0x" + secrets.token_hex(20)
    entered = [await actions.enter_community(container.uow, media, community_id, address, creating=True,
                                             caller_role="owner", profile=None, trust_caller=True)
               for address in (stayed, left)]
    code = entered[0].room.code
    async with container.uow() as uow:  # both connected, as the media server reported then
        for one in entered:
            await rooms.do_media_event(uow, "joined", code, one.participant.user_id)
    # townhall restarts; meanwhile one of them left and no process heard it
    media.has[code] = {str(entered[0].participant.user_id)}
    await watch_live_rooms(container)
    async with container.read() as conn:
        statuses = [(await rooms.participant(conn, entered[0].room.id, one.participant.user_id)) for one in entered]
    assert [part.status for part in statuses if part is not None] == [CONNECTED, INTERRUPTED]


async def test_watching_runs_a_bounded_number_at_once(make_container: Callable[..., Awaitable[Container]]) -> None:
    container = await make_container()
    media = container.media = RecordingMedia()
    made = await live_rooms(container, 6)
    await watch_live_rooms(container, concurrency=2)
    assert {room.code for room in made} <= set(media.watched)
    assert media.most_at_once == 2


async def test_the_runtime_watches_live_rooms_in_the_background_and_again_while_the_media_server_is_down(
    make_container: Callable[..., Awaitable[Container]],
) -> None:
    container = await make_container()
    media = container.media = RecordingMedia()
    made = await live_rooms(container, 2)
    media.down = 1  # the first watch finds the media server unreachable: the pass is made again
    with patch("townhall.jobs.live.WATCH_RETRY", 0.01):
        async with live_runtime(container):
            for _ in range(200):
                if {room.code for room in made} <= set(media.watched):
                    break
                await asyncio.sleep(0.02)
    assert {room.code for room in made} <= set(media.watched)
    assert media.down == 0


def test_the_calls_timers_run_about_twice_per_grace_and_dial_timeout(container: Container) -> None:
    experts = container.settings.experts
    assert calls_tick(container, 60.0) == max(MIN_CALLS_TICK, min(experts.dial_timeout, experts.reconnect_grace) / 2)
    assert calls_tick(container, 0.05) == 0.05  # a test's fast tick is kept
