"""The live-media runtime of one serving process: the media server's questions and events go to the
domain that owns each media room, and the periodic jobs of live rooms and calls run here.

- access: ``AccessRouter`` asks the rooms core about room codes and the calls core about
  ``call-<id>`` rooms (``MediaBackend.set_access``);
- events: joins and leaves the media server reports drive room presence and call status;
- jobs: every ``TICK`` seconds, the rooms' expiry (participants gone quiet leave, rooms without a
  present moderator end) and the calls' timers (dial timeouts, requests past ``expires_at``).

``create_app``'s lifespan enters ``live_runtime(container)`` once for the whole process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from townhall.core.calls import actions as call_actions
from townhall.core.rooms import actions as room_actions
from townhall.media.access import AccessRouter

if TYPE_CHECKING:
    from townhall.container import Container

log = logging.getLogger(__name__)

TICK = 60.0  # seconds between runs of the periodic jobs


async def _every(seconds: float, what: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("a periodic job failed", extra={"job": what})


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
    media.on_event(room_actions.media_event_handler(container.uow))
    media.on_event(call_actions.media_event_handler(container))

    jobs = [
        asyncio.create_task(_every(tick, "rooms-expiry", lambda: room_actions.expire(container.uow, media)),
                            name="rooms-expiry"),
        asyncio.create_task(_every(tick, "calls-timers", lambda: call_actions.tick(container)),
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
