"""Event bus: domain events go from publishers (units of work) to subscribers (surface gateways).

Two backends, one contract (``tests/realtime/test_bus_contract.py``):

- ``MemoryEventBus``: a single process.
- ``RedisEventBus``: Redis pub/sub, so events cross processes and hosts (DESIGN.md "Scale-out").

Topics look like ``channel:messaging:general``; a subscription pattern is an exact topic or a prefix
ending in ``*`` (``channel:*``). Every subscription owns a bounded queue and a task: ``publish()``
only enqueues, so a slow or failing handler never holds up the publisher or other subscribers.
Delivery is at most once, like Redis pub/sub itself: a full queue drops its oldest events.
A bus belongs to one event loop and is not thread-safe.

A subscription may say which events it ``wants`` (by class and topic, without decoding them): a
Redis bus decodes an event from another process only when one of its subscriptions wants it, and
an event's own process gets it straight from ``publish`` (its echo from Redis is dropped), so each
event is encoded once and decoded at most once per other process.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from townhall.core.events import Event
from townhall.metrics import EVENTS_PUBLISHED

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]
# Whether a subscription wants an event of this class on this topic (a cheap test: it runs on
# every event the pattern matches, before the event is decoded).
Wants = Callable[[type[Event], str], bool]

DEFAULT_QUEUE_SIZE = 10_000


class EventBusError(RuntimeError):
    """The bus cannot do what was asked: it is closed, or Redis is unreachable."""


@functools.cache
def _published(event_type: str) -> Any:
    """The counter of one event type (``labels()`` costs more than the rest of a local publish)."""
    return EVENTS_PUBLISHED.labels(event_type)


def _check_pattern(pattern: str) -> None:
    if "*" in pattern[:-1] or not pattern:
        raise ValueError(f"bad topic pattern {pattern!r}: use a topic or a prefix ending in '*'")


def _matches(pattern: str, topic: str) -> bool:
    return topic.startswith(pattern[:-1]) if pattern.endswith("*") else topic == pattern


class Subscription:
    """One handler on one pattern, fed through its own queue and task. Returned by ``subscribe``."""

    def __init__(
        self,
        pattern: str,
        handler: Handler,
        on_close: Callable[[Subscription], None],
        queue_size: int,
        wants: Wants | None = None,
    ) -> None:
        self.pattern = pattern
        self.wants = wants
        self.closed = False
        self._handler = handler
        self._on_close = on_close
        # None is the stop signal put by close().
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0  # events dropped in the current burst

    def close(self) -> None:
        """Stop delivering to this handler. A handler already running finishes; queued events go."""
        if self.closed:
            return
        self.closed = True
        self._on_close(self)
        while not self._queue.empty():
            self._queue.get_nowait()
        if self._task is not None:
            self._queue.put_nowait(None)

    def _offer(self, event: Event) -> None:
        """Queue ``event`` for the handler without ever waiting; when full, drop the oldest."""
        if self.closed:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self._dropped += 1
            if self._dropped == 1:
                log.warning(
                    "event subscriber %r on %r is too slow: its queue is full (%d), dropping the "
                    "oldest events",
                    self._handler,
                    self.pattern,
                    self._queue.maxsize,
                )
        self._queue.put_nowait(event)
        # Started lazily: subscribe() may run before the event loop does; delivery never does.
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"event-subscriber:{self.pattern}"
            )

    async def _run(self) -> None:
        while (event := await self._queue.get()) is not None:
            try:
                await self._handler(event)
            except Exception:
                log.exception(
                    "event handler %r failed on %s (%s)", self._handler, event.type, event.topic
                )
            if self._dropped and self._queue.empty():
                log.info("subscriber on %r caught up, %d dropped", self.pattern, self._dropped)
                self._dropped = 0

    async def _stop(self) -> None:
        """Close and cancel the task, interrupting a running handler (used by the bus's close)."""
        self.close()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class EventBus(ABC):
    """Topic pub/sub. Local subscriptions are kept here; backends say how events reach them."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        # pattern -> its subscriptions (a dict keeps subscription order)
        self._subs: dict[str, dict[Subscription, None]] = {}
        self._closed = False

    @abstractmethod
    async def start(self) -> None:
        """Get ready to deliver (idempotent)."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every subscription and release connections (idempotent). The bus is then done."""

    @abstractmethod
    async def publish(self, event: Event) -> None:
        """Send ``event`` to every subscription matching its topic. Never waits for a subscriber."""

    async def ready(self, timeout: float = 5.0) -> None:
        """Return once the subscriptions made so far get events published by any process.

        Only the Redis backend has something to wait for (the server confirming its PSUBSCRIBEs).
        Not part of delivery: use it where a subscription must be live before going on (tests).
        """
        self._check_open()

    def subscribe(self, pattern: str, handler: Handler, *, wants: Wants | None = None) -> Subscription:
        """Call ``handler`` with each event whose topic matches ``pattern`` (topic or prefix*) and,
        if given, that ``wants(event class, topic)`` accepts."""
        _check_pattern(pattern)
        self._check_open()
        sub = Subscription(pattern, handler, self._unsubscribe, self._queue_size, wants)
        subs = self._subs.setdefault(pattern, {})
        subs[sub] = None
        if len(subs) == 1:
            self._pattern_added(pattern)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.pattern)
        if subs is None or subs.pop(sub, False) is False:
            return
        if not subs:
            del self._subs[sub.pattern]
            self._pattern_removed(sub.pattern)

    def _pattern_added(self, pattern: str) -> None:
        """Hook: ``pattern`` got its first subscription."""

    def _pattern_removed(self, pattern: str) -> None:
        """Hook: the last subscription of ``pattern`` closed."""

    def _deliver(self, pattern: str, event: Event) -> None:
        cls, topic = type(event), event.topic
        for sub in list(self._subs.get(pattern, ())):
            if sub.wants is None or sub.wants(cls, topic):
                sub._offer(event)

    def _deliver_here(self, event: Event) -> None:
        """To every local subscription whose pattern matches the event's topic."""
        topic = event.topic
        for pattern in [p for p in self._subs if _matches(p, topic)]:
            self._deliver(pattern, event)

    def _check_open(self) -> None:
        if self._closed:
            raise EventBusError("the event bus is closed")

    async def _close_subscriptions(self) -> None:
        subs = [sub for group in self._subs.values() for sub in group]
        await asyncio.gather(*(sub._stop() for sub in subs))


class MemoryEventBus(EventBus):
    """Delivers within this process only."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__(queue_size=queue_size)
        self._prefixes: dict[str, None] = {}  # the patterns ending in '*'

    async def start(self) -> None:
        self._check_open()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._close_subscriptions()

    async def publish(self, event: Event) -> None:
        self._check_open()
        _published(event.type).inc()
        topic = event.topic
        if topic in self._subs and topic not in self._prefixes:
            self._deliver(topic, event)
        for pattern in [p for p in self._prefixes if topic.startswith(p[:-1])]:
            self._deliver(pattern, event)

    def _pattern_added(self, pattern: str) -> None:
        if pattern.endswith("*"):
            self._prefixes[pattern] = None

    def _pattern_removed(self, pattern: str) -> None:
        self._prefixes.pop(pattern, None)


_GLOB_SPECIAL = re.compile(r"[\\*?\[\]]")
_KEEPALIVE = b"keepalive"
# The start of what publish() sends: the event's type and the publishing bus.
_HEAD = re.compile(rb'\{"type":"([^"\\]*)","origin":"([^"\\]*)"')


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class RedisEventBus(EventBus):
    """Redis pub/sub: ``publish`` sends ``event.to_json()`` on channel ``prefix + topic``.

    One dedicated connection per bus carries a PSUBSCRIBE for each distinct local pattern; a reader
    task dispatches what arrives to local subscriptions. A topic matching several patterns arrives
    once per pattern (Redis sends one pmessage per matching pattern), and each copy goes only to
    the subscriptions of that pattern, so every subscription gets an event exactly once.

    The connection is a raw one (not redis-py's PubSub, which silently reconnects and resubscribes
    on its own); when it drops, the reader reconnects with backoff and subscribes everything again.
    Events published while it is down are lost, as with any Redis pub/sub. ``publish`` needs no
    ``start``: only receiving does.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "townhall:",
        queue_size: int = DEFAULT_QUEUE_SIZE,
        connect_timeout: float = 2.0,
        command_timeout: float = 5.0,
        keepalive: float = 15.0,
        reconnect_min_delay: float = 0.2,
        reconnect_max_delay: float = 10.0,
        client_name: str | None = None,
    ) -> None:
        super().__init__(queue_size=queue_size)
        self._url = _redact(url)
        self._prefix = prefix
        self._keepalive = keepalive
        self._delays = (reconnect_min_delay, reconnect_max_delay)
        # Shown by CLIENT LIST on the subscriber connection (tests use it to cut the connection).
        self.client_name = client_name or f"townhall-bus-{id(self):x}"
        # Publishing: one retry covers a pooled connection that went stale (e.g. Redis restarted).
        self._pub = aioredis.Redis.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
            socket_connect_timeout=connect_timeout,
            socket_timeout=command_timeout,
        )
        # Subscribing: no retries, the reader owns reconnecting; the pool only builds connections.
        # RESP2, where pub/sub messages are plain replies (RESP3 routes them to a push handler).
        self._sub_pool: ConnectionPool = ConnectionPool.from_url(
            url,
            protocol=2,
            retry=Retry(NoBackoff(), 0),
            client_name=self.client_name,
            socket_connect_timeout=connect_timeout,
            socket_timeout=command_timeout,
        )
        self._conn: AbstractConnection | None = None  # the subscriber connection, when up
        self._connected = asyncio.Event()
        self._lock = asyncio.Lock()  # guards _conn/_active against interleaved (un)subscribes
        self._local_of: dict[bytes, str] = {}  # Redis pattern -> local pattern (the wanted set)
        self._active: set[bytes] = set()  # Redis patterns subscribed on the current connection
        self._dirty = False  # _local_of changed since the last sync
        self._sync_task: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._barriers: dict[bytes, asyncio.Future[bool]] = {}  # PING token -> ready() waiter
        self._tokens = itertools.count()
        # Marks this bus's own messages, whose echo from Redis it drops.
        self._origin = secrets.token_hex(8)
        self._origin_bytes = self._origin.encode()

    # -- lifecycle

    async def start(self) -> None:
        self._check_open()
        async with self._start_lock:
            if self._reader is not None:
                return
            try:
                await self._connect()
            except (RedisError, OSError) as exc:
                raise EventBusError(
                    f"event bus cannot connect to Redis at {self._url}: {exc}"
                ) from exc
            self._reader = asyncio.get_running_loop().create_task(
                self._read_forever(), name="event-bus-reader"
            )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = [t for t in (self._reader, self._sync_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._conn is not None:
            await self._conn.disconnect(nowait=True)
            self._conn = None
        self._connected.clear()
        await self._close_subscriptions()
        await self._pub.aclose()
        await self._sub_pool.aclose()

    # -- publishing

    async def publish(self, event: Event) -> None:
        self._check_open()
        data = orjson.dumps(
            {"type": event.type, "origin": self._origin, "data": event.model_dump(mode="json")}
        )
        # This process's subscriptions get the event itself, in the order of publish() calls (as on
        # the memory bus; concurrent PUBLISHes on pooled connections may complete in another
        # order), and even while Redis is down; its echo from Redis is dropped.
        self._deliver_here(event)
        try:
            await self._pub.publish(self._prefix + event.topic, data)
        except (RedisError, OSError) as exc:
            raise EventBusError(
                f"cannot publish {event.type} on {event.topic}: Redis at {self._url}: {exc}"
            ) from exc
        _published(event.type).inc()

    # -- subscribing

    def _redis_pattern(self, pattern: str) -> bytes:
        """The Redis glob matching exactly the channels of ``pattern`` (escapes ?, [, ...)."""
        literal, star = (pattern[:-1], "*") if pattern.endswith("*") else (pattern, "")
        return (_GLOB_SPECIAL.sub(lambda m: "\\" + m[0], self._prefix + literal) + star).encode()

    def _pattern_added(self, pattern: str) -> None:
        self._local_of[self._redis_pattern(pattern)] = pattern
        self._schedule_sync()

    def _pattern_removed(self, pattern: str) -> None:
        del self._local_of[self._redis_pattern(pattern)]
        self._schedule_sync()

    def _schedule_sync(self) -> None:
        # subscribe() is synchronous, so PSUBSCRIBE/PUNSUBSCRIBE go out from a task. Before start()
        # there is nothing to do: connecting subscribes every wanted pattern.
        if self._reader is None or self._closed:
            return
        self._dirty = True
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.get_running_loop().create_task(self._sync_while_dirty())

    async def _sync_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                async with self._lock:
                    await self._sync_locked()
            except (RedisError, OSError) as exc:
                # The connection is broken; the reader notices, reconnects and subscribes anew.
                log.debug("event bus could not update its Redis subscriptions: %s", exc)

    async def _sync_locked(self) -> None:
        """Make the connection's PSUBSCRIBEs match the local patterns. Caller holds ``_lock``."""
        conn = self._conn
        if conn is None or not conn.is_connected:  # send_command would reconnect it behind our back
            return
        wanted = set(self._local_of)
        if new := wanted - self._active:
            await conn.send_command("PSUBSCRIBE", *new)
        if old := self._active - wanted:
            await conn.send_command("PUNSUBSCRIBE", *old)
        self._active = wanted

    async def ready(self, timeout: float = 5.0) -> None:
        """Wait until the Redis server has applied every (un)subscription made so far.

        A PING sent on the subscriber connection after the PSUBSCRIBEs is answered after them.
        """
        self._check_open()
        if self._reader is None:
            raise EventBusError("the event bus is not started")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._connected.wait()
                    token = b"ready:%d" % next(self._tokens)
                    self._barriers[token] = waiter = loop.create_future()
                    try:
                        async with self._lock:
                            if self._conn is None:
                                continue
                            await self._sync_locked()
                            await self._conn.send_command("PING", token)
                        if await waiter:  # False: the connection dropped first; try again
                            return
                    except (RedisError, OSError):
                        await asyncio.sleep(0.05)  # the reader is about to notice and reconnect
                    finally:
                        self._barriers.pop(token, None)
        except TimeoutError:
            raise EventBusError(
                f"event bus subscriptions not confirmed by Redis at {self._url} in {timeout}s"
            ) from None

    # -- the reader

    async def _connect(self) -> None:
        conn: AbstractConnection = self._sub_pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
            async with self._lock:
                if patterns := list(self._local_of):
                    await conn.send_command("PSUBSCRIBE", *patterns)
                self._conn, self._active = conn, set(patterns)
                self._connected.set()
        except BaseException:
            await conn.disconnect(nowait=True)
            raise

    async def _disconnect(self, conn: AbstractConnection) -> None:
        async with self._lock:
            self._conn, self._active = None, set()
            self._connected.clear()
            for waiter in self._barriers.values():
                if not waiter.done():
                    waiter.set_result(False)
        await conn.disconnect(nowait=True)

    async def _read_forever(self) -> None:
        low, high = self._delays
        while True:
            conn = self._conn
            assert conn is not None
            try:
                await self._read(conn)
            except Exception as exc:  # connection trouble, mostly; anything else must not kill us
                log.warning("event bus lost its Redis connection (%r); reconnecting", exc)
            await self._disconnect(conn)
            delay = low
            while True:
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # jitter: not all at once
                try:
                    await self._connect()
                    break
                except (RedisError, OSError) as exc:
                    delay = min(delay * 2, high)
                    log.warning("event bus cannot reach Redis at %s (%s); retrying", self._url, exc)
            log.info("event bus reconnected to Redis at %s", self._url)

    async def _read(self, conn: AbstractConnection) -> None:
        """Dispatch what arrives until the connection fails (raises)."""
        pinged = False
        while True:
            reply = await conn.read_response(timeout=self._keepalive)
            if reply is None:  # quiet for a while: PING, and give up if that goes unanswered too
                if pinged:
                    raise RedisConnectionError(f"no reply from Redis in {2 * self._keepalive}s")
                await conn.send_command("PING", _KEEPALIVE)
                pinged = True
                continue
            pinged = False
            if isinstance(reply, bytes):  # PING answered outside subscribed mode (no patterns)
                self._pong(reply)
            elif reply[0] == b"pmessage":
                self._dispatch(reply[1], reply[2], reply[3])
            elif reply[0] == b"pong":
                self._pong(reply[1])
            # (p)subscribe/(p)unsubscribe confirmations need nothing: ready() uses PING barriers.

    def _pong(self, token: bytes) -> None:
        waiter = self._barriers.get(token)
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _dispatch(self, redis_pattern: bytes, channel: bytes, data: bytes) -> None:
        pattern = self._local_of.get(redis_pattern)
        if pattern is None:  # its last subscriber closed; PUNSUBSCRIBE on its way
            return
        topic = channel.decode()[len(self._prefix) :]
        if not _matches(pattern, topic):
            return
        head = _HEAD.match(data)
        subs: list[Subscription] | None = None  # None: decide once decoded (no readable head)
        if head is not None:
            if head[2] == self._origin_bytes:
                return  # published here: already delivered by publish()
            cls = Event.class_of(head[1].decode())
            if cls is None:
                log.warning("skipping an event of unknown type %r on %s (another version?)",
                            head[1].decode(), topic)  # fmt: skip
                return
            subs = [s for s in self._subs.get(pattern, ()) if s.wants is None or s.wants(cls, topic)]
            if not subs:
                return  # nobody here wants it: not decoded at all
        try:
            event = Event.from_json(data)
        except KeyError as exc:
            log.warning("skipping an event of unknown type %s on %s (another version?)", exc, topic)
            return
        except Exception:
            log.exception("skipping an event on %s that cannot be decoded", topic)
            return
        if subs is None:
            self._deliver(pattern, event)
            return
        for sub in subs:
            sub._offer(event)


def create_bus(redis_url: str | None) -> EventBus:
    """The Redis bus when a URL is configured, else the in-process one."""
    return RedisEventBus(redis_url) if redis_url else MemoryEventBus()
