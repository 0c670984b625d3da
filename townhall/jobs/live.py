"""The live-media runtime of one serving process: the media server's questions and events go to the
domain that owns each media room, and the periodic jobs of live rooms and calls run here.

- access: ``AccessRouter`` asks the rooms core about room codes and the calls core about
  ``call-<id>`` rooms (``MediaBackend.set_access``);
- events: joins and leaves the media server reports drive room presence and call status;
- jobs: every ``TICK`` seconds, the rooms' expiry (participants gone quiet leave, rooms without a
  present moderator end) and the calls' timers (dial timeouts, requests past ``expires_at``);
- at start, in the background: ``MediaBackend.watch`` for every live room of the rooms core carried
  by this process's media backend, so this process follows their joins and leaves and enforces who
  may be heard (a Janus backend only hears rooms it created or watches). A room the media server no
  longer has (it restarted meanwhile) is created again; clients rejoin with fresh credentials. Then
  the participants the database says are connected are checked against the media server's list:
  those it does not have lost their connection (leaves nobody reported while no process watched).
  The media rooms of live expert calls are watched too (a lost one is left to the calls' sweep).

``create_app``'s lifespan enters ``live_runtime(container)`` once for the whole process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy import select

from townhall.core.calls import actions as call_actions
from townhall.core.rooms import actions as room_actions
from townhall.core.rooms.tables import rooms
from townhall.media.access import AccessRouter
from townhall.media.base import MediaError, MediaRoomNotFound, MediaUnavailable

if TYPE_CHECKING:
    from townhall.container import Container

log = logging.getLogger(__name__)

TICK = 60.0  # seconds between runs of the periodic jobs
MIN_CALLS_TICK = 5.0
WATCH_CONCURRENCY = 8  # media rooms watched at once at start (each is a few media server requests)
WATCH_PAGE = 500  # live rooms read per query at start
WATCH_RETRY, WATCH_RETRY_MAX = 5.0, 120.0  # seconds before watching again while the media server is down


async def _every(seconds: float, what: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("a periodic job failed", extra={"job": what})


async def _watch_at_start(container: Container, retry: float = WATCH_RETRY) -> None:
    """``watch_live_rooms`` once, again (every ``retry`` seconds, doubling up to ``WATCH_RETRY_MAX``)
    while the media server cannot be reached: its rooms then stay unwatched."""
    while True:
        try:
            watched, unreachable = await watch_live_rooms(container)
        except Exception:
            log.exception("watching the live rooms failed")
            return
        if not unreachable:
            if watched:
                log.info("watching live rooms", extra={"rooms": watched, "backend": container.media.name})
            return
        log.warning("media server unreachable; watching live rooms again later",
                    extra={"rooms": unreachable, "retry_in": retry})
        await asyncio.sleep(retry)
        retry = min(retry * 2, WATCH_RETRY_MAX)


async def live_room_codes(container: Container, backend: str) -> AsyncIterator[list[str]]:
    """The codes of the rooms core's live rooms whose media room is on ``backend``, a page at a time
    (by id: rooms started meanwhile are watched by the process that creates them)."""
    after = 0
    while True:
        async with container.read() as conn:
            page = (await conn.execute(
                select(rooms.c.id, rooms.c.code)
                .where(rooms.c.ended_at.is_(None), rooms.c.media_backend == backend, rooms.c.id > after)
                .order_by(rooms.c.id).limit(WATCH_PAGE))).all()
        if not page:
            return
        yield [row.code for row in page]
        after = page[-1].id


async def _is_live(container: Container, code: str) -> bool:
    async with container.read() as conn:
        return (await conn.execute(select(rooms.c.id).where(rooms.c.code == code, rooms.c.ended_at.is_(None)))
                ).first() is not None


async def _watch(container: Container, code: str, limit: asyncio.Semaphore) -> bool:
    """Watch one room (re-create it if the media server lost it and it is still live), then check who
    the database says is connected against who the media server has (``confirm_connected``: leaves
    nobody reported while no process watched); False when the media server could not be reached.
    Other media errors are logged."""
    media = container.media
    async with limit:
        try:
            try:
                await media.watch(code)
            except MediaRoomNotFound:
                if not await _is_live(container, code):  # ended meanwhile (its media room destroyed)
                    return True
                await media.create_room(code)
                log.info("re-created a live room the media server had lost", extra={"room": code})
            await room_actions.confirm_connected(container.uow, media, code=code)
        except MediaUnavailable:
            return False
        except MediaError:
            log.warning("could not watch a live room's media room", exc_info=True, extra={"room": code})
    return True


async def watch_live_rooms(container: Container, *, concurrency: int = WATCH_CONCURRENCY) -> tuple[int, int]:
    """``MediaBackend.watch`` every live room on this process's media backend, ``concurrency`` at a time.
    Returns (rooms asked for, rooms the media server could not be reached for); never raises MediaError."""
    limit, count, unreachable = asyncio.Semaphore(concurrency), 0, 0
    async for codes in live_room_codes(container, container.media.name):
        done = await asyncio.gather(*(_watch(container, code, limit) for code in codes))
        count += len(codes)
        unreachable += done.count(False)
    calls = await call_actions.live_rooms(container)  # a lost call room is not re-created: the call sweep ends it
    done = await asyncio.gather(*(_watch(container, code, limit) for code in calls))
    return count + len(calls), unreachable + done.count(False)


def calls_tick(container: Container, tick: float) -> float:
    """Seconds between runs of the calls' timers: often enough that a dial timeout or a reconnect
    grace ends within about half its length of when it ran out (never more often than every
    MIN_CALLS_TICK seconds: each run asks the media server about every live call)."""
    experts = container.settings.experts
    shortest = min(t for t in (experts.dial_timeout, experts.reconnect_grace, tick) if t > 0)
    return min(tick, max(MIN_CALLS_TICK, shortest / 2))


@asynccontextmanager
async def live_runtime(container: Container, *, tick: float = TICK) -> AsyncIterator[None]:
    media = container.media
    access = AccessRouter()
    may_join, may_publish = room_actions.access_checks(container.read)
    access.route("", may_join=may_join, may_publish=may_publish)
    may_join, may_publish = call_actions.access_checks(container.read)
    access.route(call_actions.CALL_ROOM_PREFIX, may_join=may_join, may_publish=may_publish)
    may_join, may_publish = access.checks()
    media.set_access(may_join=may_join, may_publish=may_publish)
    media.on_event(room_actions.media_event_handler(container.uow, media))
    media.on_event(call_actions.media_event_handler(container))

    jobs = [
        asyncio.create_task(_watch_at_start(container), name="watch-live-rooms"),
        asyncio.create_task(_every(tick, "rooms-expiry", lambda: room_actions.expire(container.uow, media)),
                            name="rooms-expiry"),
        asyncio.create_task(_every(calls_tick(container, tick), "calls-timers", lambda: call_actions.tick(container)),
                            name="calls-timers"),
    ]
    try:
        yield
    finally:
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
