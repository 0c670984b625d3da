"""Expert calls' work with the media server and the push sender, around the units of work of
``service`` (state in the unit, network calls after its commit: AGENTS.md "Write path").

Contract used by ``townhall.jobs.live``:
- ``CALL_ROOM_PREFIX``: media room names of calls start with it (``call-<id>``);
- ``access_checks(read)``: (may_join, may_publish) for call media rooms;
- ``media_event_handler(container)``: a ``MediaBackend.on_event`` callback driving call status;
- ``tick(container)``: the periodic job (dial timeouts, expiry at ``expires_at``, reconnect graces
  run out, push retries).

Connecting: the media room is made and the parties' credentials obtained first, the call row moves
to ``dialing_seeker`` only then (a media failure leaves the call pending; a failed write destroys
the room again). When the seeker joins, the expert is dialled the same way. A call that ends
(completed, unavailable, canceled) has its media room destroyed, best effort (the access checks
already refuse everyone once the call is over).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from townhall.core.calls import notifications, service
from townhall.core.calls.models import CALL_ROOM_PREFIX, Call, call_id_of
from townhall.core.fields import is_digits
from townhall.core.rooms.actions import MediaFailed
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.integrations.push import LogPush, PushError, PushMessage, PushSender
from townhall.media.base import AccessCheck, MediaBackend, MediaError, MediaEvent, MediaRoomNotFound

log = logging.getLogger(__name__)

__all__ = ["CALL_ROOM_PREFIX", "access_checks", "cancel", "connect", "connection", "deliver_notifications",
           "fulfill_need", "live_rooms", "media_event_handler", "request_call", "sweep", "tick"]

SWEEP_BATCH = 500  # live calls checked against the media server per tick
PUSH_KEY = "push"  # the process's PushSender in ``container.extras`` (default: LogPush)
CONNECTIONS_KEY = "call_connections"  # the process's ConnectionCache in ``container.extras``
CONNECTION_TTL = 30.0  # seconds a party's connection URL is reused (LiveKit's tokens live 120 s by default)
MAX_CONNECTIONS = 10_000  # cached connection URLs per process


class Runtime(Protocol):
    """What these actions need of the process's container."""

    media: MediaBackend
    settings: Any
    extras: dict[str, object]

    def uow(self) -> AbstractAsyncContextManager[UnitOfWork]: ...

    def read(self) -> AbstractAsyncContextManager[Connection]: ...


@dataclass(frozen=True, slots=True)
class Connected:
    call: Call
    connection_url: str  # the caller's own way into the call's media room


def push_sender(container: Runtime) -> PushSender:
    sender = container.extras.get(PUSH_KEY)
    if sender is None:
        sender = container.extras[PUSH_KEY] = LogPush()
    return sender  # type: ignore[return-value]


class ConnectionCache:
    """The parties' connection URLs of live calls, reused for ``CONNECTION_TTL`` seconds: a client
    polling ``GET /calls/{id}`` does not make the media server issue credentials on every poll.
    In-process; a call's entries go when its media room does."""

    def __init__(self, ttl: float = CONNECTION_TTL, limit: int = MAX_CONNECTIONS) -> None:
        self.ttl, self.limit = ttl, limit
        self._urls: dict[tuple[int, int], tuple[float, str]] = {}

    def get(self, call_id: int, user_id: int) -> str | None:
        found = self._urls.get((call_id, user_id))
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    def put(self, call_id: int, user_id: int, url: str) -> None:
        if len(self._urls) >= self.limit:
            at = time.monotonic()
            self._urls = {key: value for key, value in self._urls.items() if value[0] > at}
            if len(self._urls) >= self.limit:
                self._urls.clear()
        self._urls[(call_id, user_id)] = (time.monotonic() + self.ttl, url)

    def forget(self, call_id: int) -> None:
        for key in [key for key in self._urls if key[0] == call_id]:
            del self._urls[key]


def connection_cache(container: Runtime) -> ConnectionCache:
    cache = container.extras.get(CONNECTIONS_KEY)
    if cache is None:
        cache = container.extras[CONNECTIONS_KEY] = ConnectionCache()
    return cache  # type: ignore[return-value]


async def _best_effort(what: str, call: Awaitable[Any]) -> None:
    try:
        await call
    except MediaError:
        log.warning("media call failed: %s", what, exc_info=True)


async def _destroy(container: Runtime, call: Call) -> None:
    connection_cache(container).forget(call.id)
    await _best_effort(f"destroy_room {call.room}", container.media.destroy_room(call.room))


async def _undo_room(container: Runtime, call: Call) -> None:
    """A connect that failed takes its media room away again, unless a concurrent connect of the same
    call (a client's double tap) succeeded meanwhile and the room is in use."""
    async with container.read() as conn:
        now_call = await service.get_call(conn, call.id)
    if now_call is None or not now_call.is_live:
        await _destroy(container, call)


async def _push_now(container: Runtime, call: Call) -> None:
    """The notifications of ``call`` just committed, sent right away (only this call's: a request
    does not deliver everyone's backlog inline); whatever fails, and the rest, is ``tick``'s."""
    try:
        await deliver_notifications(container, call_id=call.id)
    except Exception:
        log.exception("push delivery failed; the periodic job retries it")


async def _credentials(container: Runtime, call: Call, user_id: int) -> str:
    """The party's way into the call's media room: fresh credentials (a dial), remembered for
    ``connection``."""
    creds = await container.media.credentials(call.room, str(user_id), can_publish=True)
    connection_cache(container).put(call.id, user_id, creds.connection_url)
    return creds.connection_url


# -- requests, connect, cancel


async def request_call(container: Runtime, seeker_id: int, expert_id: Any, reason: Any, expires_in: Any = None, *,
                       idempotency_key: str | None = None, at: datetime | None = None) -> Call:
    async with container.uow() as unit:
        call = await service.do_request_call(unit, seeker_id, expert_id, reason, expires_in,
                                             idempotency_key=idempotency_key, at=at)
    await _push_now(container, call)
    return call


async def fulfill_need(container: Runtime, user_id: int, need_id: Any, *, expires_in: Any = None,
                       at: datetime | None = None) -> Call:
    async with container.uow() as unit:
        call = await service.do_fulfill_need(unit, user_id, need_id, expires_in=expires_in, at=at)
    await _push_now(container, call)
    return call


async def connect(container: Runtime, expert_id: int, call_id: Any, *, at: datetime | None = None) -> Connected:
    """The expert connects a pending call: its private media room is made, the seeker dialled; the
    expert gets their own connection URL in the answer (and may join at once)."""
    async with container.read() as conn:
        call = await service.check_connect(conn, expert_id, call_id, at=at)
    try:
        await container.media.create_room(call.room)
        seeker_url = await _credentials(container, call, call.seeker_id)
        expert_url = await _credentials(container, call, call.expert_id)
    except MediaError as exc:
        await _undo_room(container, call)
        raise MediaFailed() from exc
    try:
        async with container.uow() as unit:
            call = await service.do_dial_seeker(unit, expert_id, call.id, seeker_url, at=at)
    except BaseException:
        await _undo_room(container, call)
        raise
    await _push_now(container, call)
    return Connected(call, expert_url)


async def cancel(container: Runtime, user_id: int, call_id: Any, *, at: datetime | None = None) -> Call:
    async with container.uow() as unit:
        call, had_room = await service.do_cancel(unit, user_id, call_id, at=at)
    if had_room:
        await _destroy(container, call)
    return call


async def connection(container: Runtime, user_id: int, call: Call) -> str | None:
    """The party's connection URL while the call is dialing or answered (None otherwise, or when the
    media server cannot give one right now: the call itself is still answered); the one given in
    the last ``CONNECTION_TTL`` seconds, if any."""
    if not call.is_live or call.role_of(user_id) is None:
        return None
    if (cached := connection_cache(container).get(call.id, user_id)) is not None:
        return cached
    try:
        return await _credentials(container, call, user_id)
    except MediaError:
        log.warning("no connection for a live call", exc_info=True, extra={"call_id": call.id})
        return None


async def _dial_expert(container: Runtime, call: Call, *, at: datetime | None = None) -> None:
    try:
        url = await _credentials(container, call, call.expert_id)
    except MediaError:  # the dial timeout ends the call as expert_unavailable
        log.warning("could not dial the expert", exc_info=True, extra={"call_id": call.id})
        return
    async with container.uow() as unit:
        await service.do_dial_expert(unit, call.id, url, at=at)
    await _push_now(container, call)


# -- the media server's questions and events


ReadFactory = Callable[[], AbstractAsyncContextManager[Connection]]


def access_checks(read: ReadFactory) -> tuple[AccessCheck, AccessCheck]:
    """Who may be in (and be heard in) a call's media room: its two parties while the call is
    dialing or answered; everyone else, and everyone once it is over, is refused."""

    async def may_join(room_id: str, user_id: str) -> bool:
        call_id = call_id_of(room_id)
        if call_id is None or not is_digits(str(user_id)):
            return False
        async with read() as conn:
            call = await service.get_call(conn, call_id)
        return service.may_be_in(call, int(user_id))

    return may_join, may_join  # a party in the room is heard


def media_event_handler(container: Runtime) -> Callable[[MediaEvent], Awaitable[None]]:
    """A ``MediaBackend.on_event`` callback: joins and leaves of a call's parties drive its status."""

    async def handle(event: MediaEvent) -> None:
        await on_media_event(container, event)

    return handle


async def on_media_event(container: Runtime, event: MediaEvent, *, at: datetime | None = None) -> None:
    call_id = call_id_of(event.room_id)
    if call_id is None or not is_digits(str(event.user_id)):
        return
    async with container.uow() as unit:
        outcome = await service.do_media_event(unit, event.kind, call_id, int(event.user_id), voluntary=event.voluntary,
                                               reconnect_grace=container.settings.experts.reconnect_grace, at=at)
    if outcome is None:
        return
    if outcome.ended:
        await _destroy(container, outcome.call)
    if outcome.dial_expert:
        await _dial_expert(container, outcome.call, at=at)


async def live_rooms(container: Runtime) -> list[str]:
    """The media rooms of the live calls: what a process starting up may ``MediaBackend.watch``."""
    async with container.read() as conn:
        return [call.room for call in await service.live_calls(conn, limit=SWEEP_BATCH)]


# -- the periodic job and push delivery


async def tick(container: Runtime, *, at: datetime | None = None) -> list[Call]:
    """Expiry, dial timeouts and reconnect graces run out (``service.do_tick``), their media rooms destroyed; the live calls'
    presence checked against the media server (``sweep``); then the push notifications still due.
    Answers the calls that ended."""
    async with container.uow() as unit:
        ended = await service.do_tick(unit, container.settings.experts.dial_timeout,
                                      container.settings.experts.reconnect_grace, at=at)
    for call in ended:
        await _destroy(container, call)
    await sweep(container, at=at)
    await deliver_notifications(container, at=at)
    return ended


async def sweep(container: Runtime, *, at: datetime | None = None) -> None:
    """The backstop of the media events: a join or leave the calls core missed (the process that
    followed the room restarted, an event was lost) is found by asking the media server who is in each
    live call's room, and handled as the event would have been; a party found gone counts as dropped
    out (the reconnect grace runs from now, unless they are back by the next sweep).
    Skipped on the null backend, which only knows the simulated clients of its own process."""
    if container.media.name == "null":
        return
    async with container.read() as conn:
        live = await service.live_calls(conn, limit=SWEEP_BATCH)
    for call in live:
        try:
            present = {p.user_id for p in await container.media.participants(call.room)}
        except MediaRoomNotFound:
            present = set()
        except MediaError:  # the media server cannot tell now: nothing is concluded
            continue
        for user_id, was_in in ((call.seeker_id, call.seeker_present), (call.expert_id, call.expert_present)):
            is_in = str(user_id) in present
            if is_in != was_in:
                kind = "joined" if is_in else "left"
                await on_media_event(container, MediaEvent(kind, call.room, str(user_id), voluntary=False), at=at)


async def deliver_notifications(container: Runtime, *, at: datetime | None = None,
                                call_id: int | None = None) -> int:
    """Send the due push notifications (at least once; of the call ``call_id`` only, when given):
    the number delivered."""
    async with container.read() as conn:  # most of the time there is none: no write transaction then
        if not await notifications.any_due(conn, at=at, call_id=call_id):
            return 0
    async with container.uow() as unit:
        due = await notifications.do_claim(unit, at=at, call_id=call_id)
    if not due:
        return 0
    sender = push_sender(container)
    outcomes: list[tuple[notifications.Notification, str | None]] = []
    for note in due:
        message = PushMessage(user_id=note.user_id, title=str(note.payload.get("title", "")),
                              body=str(note.payload.get("body", "")),
                              data={"kind": note.kind, **{k: v for k, v in note.payload.items()
                                                          if k not in ("title", "body")}})
        try:
            await sender.send(message)
            outcomes.append((note, None))
        except PushError as exc:
            outcomes.append((note, str(exc) or type(exc).__name__))
    async with container.uow() as unit:
        for note, error in outcomes:
            await notifications.do_record(unit, note, error, at=at)
    return sum(1 for _, error in outcomes if error is None)

