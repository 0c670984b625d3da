"""The per-process state of the PubNub gateway: room events as PubNub messages, and the long-polls
waiting for them.

Every process gets every room event through the EventBus (``room:*``, ``user:*``), renders it once
(``pubnub_render``), gives it a timetoken and keeps it in a bounded ring per PubNub channel. A
subscriber presents the timetoken of what it has seen and gets what came after it, at once or as
soon as it arrives. So a client that reconnects with its last timetoken misses nothing this process
saw while the ring still holds it (``RING_SIZE`` messages per channel, for ``RETENTION_S``).

Timetokens are PubNub's: 17 digits, 100 ns units since the epoch. Here they are this process's
arrival order: strictly increasing, never below the wall clock, so a cursor answered to a client
is above every message already kept and below every message to come. A client that presents a
cursor from another process (behind a load balancer) is served by time, which is close; a cursor
slightly ahead of this process's clock (``MAX_AHEAD``, clocks' drift) moves the clock forward so that
nothing to come falls below it, and one further ahead is answered a fresh cursor: a client cannot
push the clock of everybody's timetokens.

Authorisation: the auth key is a room participant's ``pubnub_token``. Lookups are cached for
``GRANT_TTL_S`` and looked up again early when an event changes the user's standing in the room
(left, removed, speaker or not, moderator, the room ended), so a long-poll costs no query and a
big room's re-polls after each event do not all go to the database; the TTL only bounds what a
lost event could leave stale. A cached grant only ever allows: a refusal is always confirmed by a
fresh lookup (someone who just became a speaker is never refused). A key that stops granting (its
user left, was removed, the room ended) still gets the messages of the channels it could read
that were published up to ``REVOKED_GRACE_S`` after the event that ended its grant (``end_channel``,
``remove_from_channel``...): that event is the last thing its client must hear, and nothing after it
is theirs, however late they poll. The window is counted from the timetoken this process gave that
event, never from the lookup; a key whose revoking event this process does not know (any more) is
refused outright.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from prometheus_client import Counter, Gauge

from townhall.api.social.pubnub_render import (
    all_channel,
    messages_of,
    speakers_channel,
    user_channel,
    users_channel,
)
from townhall.core.events import Event
from townhall.core.rooms import service as rooms
from townhall.core.rooms.events import (
    ModeratorMade,
    RemovedFromRoom,
    RoomEnded,
    RoomEvent,
    SpeakerAdded,
    SpeakerRemoved,
    UserLeft,
)

if TYPE_CHECKING:
    from townhall.container import Container
    from townhall.realtime.bus import Subscription

log = logging.getLogger(__name__)

SUBSCRIBERS = Gauge("townhall_pubnub_subscribers", "PubNub long-polls waiting for messages")
DELIVERED = Counter("townhall_pubnub_messages_delivered_total", "PubNub messages sent to subscribers")
PUBLISHED = Counter("townhall_pubnub_messages_total", "PubNub messages made from room events")

REGION = 1  # the "r" of every timetoken: one region
RING_SIZE = 100  # messages kept per channel
RETENTION_S = 600.0  # a message is kept this long (longer than a long-poll plus a reconnect)
SWEEP_INTERVAL_S = 60.0
MAX_BATCH = 100  # messages per subscribe answer, as PubNub
MAX_AHEAD = 10**7  # a cursor further ahead of the clock than this (1 s: clocks' drift) is answered a fresh one
GRANT_TTL_S = 30.0
REVOKED_GRACE_S = 0.5  # a revoked key still gets what was published up to this long after the revoking event
MAX_GRANTS = 100_000  # auth keys remembered
PRESENCE = "-pnpres"  # suffix of presence channels: accepted, never carry anything here


def _standing_changed(event: RoomEvent) -> tuple[int, int | None] | None:
    """``(room id, user id)`` whose grants ``event`` may change (user None: everyone's), if any."""
    match event:
        case UserLeft() | RemovedFromRoom() | SpeakerRemoved() | ModeratorMade():
            return event.room_id, event.user_id
        case SpeakerAdded():
            return event.room_id, event.member.user_id
        case RoomEnded():
            return event.room_id, None
    return None


def wall_timetoken() -> int:
    return time.time_ns() // 100


def _room_events(cls: type[Event], topic: str) -> bool:
    """What ``on_event`` uses: the bus skips other events undecoded."""
    return issubclass(cls, RoomEvent)


@dataclass(frozen=True, slots=True)
class Message:
    """One message, serialised once: ``head`` is its envelope entry without the subscriber's part
    (``"k"``, the subscribe key) and the closing brace."""

    timetoken: int
    head: bytes


@dataclass(frozen=True, slots=True)
class Grant:
    """What one auth key may read."""

    user_id: int
    room_id: int
    channels: frozenset[str]

    def refused(self, channels: Iterable[str]) -> list[str]:
        return [c for c in channels if c.removesuffix(PRESENCE) not in self.channels]


@dataclass(frozen=True, slots=True)
class Access:
    """What a request may read: nothing of ``refused``; with ``until``, only messages up to that
    timetoken (a revoked key's last messages)."""

    refused: list[str]
    until: int | None = None


@dataclass(frozen=True, slots=True)
class _Change:
    """An event that changed someone's standing in a room, as this process saw it."""

    counter: int  # the invalidation counter when it came: lookups started before are stale
    at: float  # monotonic time it came (forgotten GRANT_TTL_S after)
    timetoken: int  # the last timetoken of its messages: a key it revoked reads nothing after (and a grace)


@dataclass(slots=True)
class _Cached:
    grant: Grant | None
    stamp: int  # the invalidation counter when the lookup started
    expires: float  # looked up again after this (monotonic)
    seen: float  # last used (monotonic): forgotten RETENTION_S after
    revoked: Grant | None = None  # what the key granted before it stopped
    until: int = 0  # ...and the last timetoken it may still read


class PubNubGateway:
    def __init__(self, container: Container) -> None:
        self._container = container
        self._last = 0  # the highest timetoken given out
        self._rings: dict[str, deque[Message]] = {}
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._subs: list[Subscription] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._grants: dict[str, _Cached] = {}
        self._lookups: dict[str, asyncio.Future[_Cached]] = {}  # lookups under way
        self._counter = itertools.count(1)
        # (room id, user id or None: everyone) -> the last change of standing
        self._changed: dict[tuple[int, int | None], _Change] = {}

    # -- lifecycle

    async def start(self) -> None:
        bus = self._container.bus
        self._subs = [bus.subscribe("room:*", self.on_event, wants=_room_events),
                      bus.subscribe("user:*", self.on_event, wants=_room_events)]
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="pubnub-sweeper")

    async def close(self) -> None:
        for sub in self._subs:
            sub.close()
        self._subs = []
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        for channel in list(self._waiters):  # long-polls answer now rather than hold the shutdown
            self._wake(channel)

    # -- timetokens

    def now(self) -> int:
        """A cursor above every timetoken given out, and reserved: later ones are above it."""
        self._last = max(self._last, wall_timetoken())
        return self._last

    def _next(self) -> int:
        self._last = max(self._last + 1, wall_timetoken())
        return self._last

    # -- events in

    async def on_event(self, event: Event) -> None:
        if not isinstance(event, RoomEvent):
            return
        changed = _standing_changed(event)
        counter = next(self._counter) if changed is not None else 0  # before the lookups its messages wake
        timetoken = 0
        for channel, body in messages_of(event):
            timetoken = self.publish(channel, body, publisher=event.actor_id)
        if changed is not None:
            self._changed[changed] = _Change(counter, time.monotonic(), timetoken or self.now())

    def publish(self, channel: str, body: dict[str, object], *, publisher: int | None = None) -> int:
        """Keep a message on ``channel`` and wake its subscribers; returns its timetoken."""
        timetoken = self._next()
        entry: dict[str, object] = {"a": "0", "f": 0, "p": {"t": str(timetoken), "r": REGION}, "c": channel,
                                    "d": body}
        if publisher is not None:
            entry["i"] = str(publisher)
        ring = self._rings.get(channel)
        if ring is None:
            ring = self._rings[channel] = deque(maxlen=RING_SIZE)
        ring.append(Message(timetoken, orjson.dumps(entry)[:-1]))
        PUBLISHED.inc()
        self._wake(channel)
        return timetoken

    def _wake(self, channel: str) -> None:
        for waiter in self._waiters.pop(channel, ()):
            if not waiter.done():
                waiter.set_result(None)

    # -- subscribers

    async def poll(self, channels: list[str], after: int, timeout: float,
                   gone: asyncio.Future[None] | None = None, *, until: int | None = None,
                   ) -> tuple[int, list[Message]]:
        """``(cursor, messages)``: the messages of ``channels`` after timetoken ``after`` (and not
        after ``until``), waiting up to ``timeout`` seconds (or until ``gone`` is done, or the clock
        passes ``until``) for some to come."""
        if after == 0:  # the handshake: where to start from
            return self.now(), []
        if after > wall_timetoken() + MAX_AHEAD:
            return self.now(), []
        self._last = max(self._last, after)  # at most MAX_AHEAD ahead of the clock
        found = self._after(channels, after, until)
        if found:
            return self._answer(found)
        if until is not None:
            timeout = min(timeout, max(0.0, (until - wall_timetoken()) / 10**7))
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for channel in channels:
            self._waiters.setdefault(channel, set()).add(waiter)
        SUBSCRIBERS.inc()
        try:
            pending = {waiter} if gone is None else {waiter, gone}
            await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            SUBSCRIBERS.dec()
            for channel in channels:
                waiting = self._waiters.get(channel)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiters[channel]
        return self._answer(self._after(channels, after, until))

    def _after(self, channels: list[str], after: int, until: int | None) -> list[Message]:
        found: list[Message] = []
        for channel in channels:
            ring = self._rings.get(channel)
            if ring:
                for message in reversed(ring):
                    if message.timetoken <= after:
                        break
                    if until is None or message.timetoken <= until:
                        found.append(message)
        return found

    def _answer(self, found: list[Message]) -> tuple[int, list[Message]]:
        if not found:
            return self.now(), []
        found.sort(key=lambda m: m.timetoken)
        if len(found) > MAX_BATCH:  # the rest comes with the next poll, from this cursor
            found = found[:MAX_BATCH]
            cursor = found[-1].timetoken
        else:
            cursor = self.now()
        DELIVERED.inc(len(found))
        return cursor, found

    # -- authorisation

    async def access(self, token: str, channels: list[str]) -> Access:
        """Whether the auth key ``token`` may read ``channels``."""
        if not token:
            return Access(channels)
        entry = await self._entry(token)
        if entry.grant is not None and entry.grant.refused(channels):
            entry = await self._entry(token, fresh=True)  # refuse on fresh data only
        if entry.grant is not None:
            return Access(entry.grant.refused(channels))
        if entry.revoked is not None and not entry.revoked.refused(channels):
            return Access([], until=entry.until)
        return Access(channels)

    async def grant(self, token: str, *, fresh: bool = False) -> Grant | None:
        """What the auth key ``token`` grants now (None: nothing), cached unless ``fresh``."""
        return (await self._entry(token, fresh=fresh)).grant

    async def _entry(self, token: str, *, fresh: bool = False) -> _Cached:
        cached = self._grants.get(token)
        clock = time.monotonic()
        if not fresh and cached is not None and cached.expires > clock and self._still_valid(cached):
            cached.seen = clock
            return cached
        pending = self._lookups.get(token)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(token))
            self._lookups[token] = pending
            pending.add_done_callback(lambda _: self._lookups.pop(token, None))
        return await asyncio.shield(pending)

    def _still_valid(self, cached: _Cached) -> bool:
        if cached.grant is None:  # tokens are never reused: an unknown one stays unknown
            return True
        grant = cached.grant
        return all(changed is None or changed.counter < cached.stamp
                   for changed in (self._changed.get((grant.room_id, grant.user_id)),
                                   self._changed.get((grant.room_id, None))))

    async def _lookup(self, token: str) -> _Cached:
        stamp = next(self._counter)
        async with self._container.read() as conn:
            part = await rooms.participant_by_pubnub_token(conn, token)
            room = await rooms.get_room(conn, room_id=part.room_id) if part is not None else None
        grant = None
        if part is not None and room is not None:
            channels = {users_channel(part.user_id), all_channel(room.code), user_channel(room.code, part.user_id)}
            if part.is_speaker:
                channels.add(speakers_channel(room.code))
            grant = Grant(user_id=part.user_id, room_id=part.room_id, channels=frozenset(channels))
        clock = time.monotonic()
        entry = _Cached(grant, stamp, clock + GRANT_TTL_S, clock)
        before = self._grants.pop(token, None)  # re-inserted last: the dict stays in lookup order
        if grant is None and before is not None:
            if before.grant is not None:  # it just stopped granting: what revoked it, if this process knows
                revoking = self._revoking(before.grant, before.stamp)
                if revoking is not None:
                    entry.revoked, entry.until = before.grant, revoking + int(REVOKED_GRACE_S * 10**7)
            else:
                entry.revoked, entry.until = before.revoked, before.until
        if len(self._grants) >= MAX_GRANTS:
            self._grants.pop(next(iter(self._grants)))
        self._grants[token] = entry
        return entry

    def _revoking(self, grant: Grant, stamp: int) -> int | None:
        """The timetoken of the latest change of ``grant``'s standing that came after the lookup
        ``stamp`` started (None: none known, so the key is refused outright)."""
        changes = [changed.timetoken for changed in (self._changed.get((grant.room_id, grant.user_id)),
                                                     self._changed.get((grant.room_id, None)))
                   if changed is not None and changed.counter >= stamp]
        return max(changes, default=None)

    # -- housekeeping

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                self.sweep()
            except Exception:
                log.exception("PubNub gateway sweep failed")

    def sweep(self) -> None:
        """Forget messages older than ``RETENTION_S``, and auth keys unused for as long."""
        oldest = wall_timetoken() - int(RETENTION_S * 10**7)
        for channel in list(self._rings):
            ring = self._rings[channel]
            while ring and ring[0].timetoken < oldest:
                ring.popleft()
            if not ring:
                del self._rings[channel]
        clock = time.monotonic()
        for token, cached in list(self._grants.items()):
            if cached.seen < clock - RETENTION_S:
                del self._grants[token]
        for key, changed in list(self._changed.items()):
            if changed.at < clock - GRANT_TTL_S:  # every grant looked up before it has expired
                del self._changed[key]
