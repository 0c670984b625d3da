"""The EventBus contract, checked against both backends (memory and Redis).

Redis tests use TOWNHALL_TEST_REDIS_URL (default redis://127.0.0.1:6379/15) and a unique channel
prefix per test. Without Redis they are skipped, unless TOWNHALL_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from townhall.core.events import Event
from townhall.realtime.bus import (
    EventBus,
    EventBusError,
    MemoryEventBus,
    RedisEventBus,
    Subscription,
    create_bus,
)

BUS_LOGGER = "townhall.realtime.bus"


class Ping(Event):
    type: ClassVar[str] = "test.bus.ping"
    n: int = 0


class Pong(Event):
    type: ClassVar[str] = "test.bus.pong"
    n: int = 0


class Inbox:
    """A handler that records what it gets and lets a test wait for it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._arrived.set()

    @property
    def numbers(self) -> list[int]:
        return [e.n for e in self.events]  # type: ignore[attr-defined]

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_for_event(self, event: Event, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while event not in self.events:
                self._arrived.clear()
                await self._arrived.wait()


# -- fixtures


@functools.cache
def _redis_problem(url: str) -> str | None:
    """Why Redis at ``url`` cannot be used, or None. Asked once per URL."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis not reachable at {url} ({exc}); set TOWNHALL_TEST_REDIS_URL"
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TOWNHALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if problem := _redis_problem(url):
        if os.environ.get("TOWNHALL_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return url


@pytest.fixture(params=["memory", "redis", "redis-across"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    """``await make_bus(**kwargs)``: a started bus; Redis buses of one test share a prefix.

    "redis": a bus delivers its own events to its subscriptions directly; "redis-across": what is
    published on the bus goes out through a second bus (another process, as far as Redis can
    tell), so every event takes the way through Redis."""
    buses: list[EventBus] = []
    prefix = f"test-{uuid.uuid4().hex}:"
    url = request.getfixturevalue("redis_url") if request.param != "memory" else None

    async def make(**kwargs: Any) -> EventBus:
        bus: EventBus
        if url is None:
            bus = MemoryEventBus(**kwargs)
        else:
            bus = RedisEventBus(url, prefix=prefix, reconnect_min_delay=0.05, **kwargs)
        buses.append(bus)
        await bus.start()
        if request.param == "redis-across":
            assert url is not None
            publisher = RedisEventBus(url, prefix=prefix)
            buses.append(publisher)

            async def publish_elsewhere(event: Event, bus: EventBus = bus) -> None:
                bus._check_open()
                await publisher.publish(event)

            bus.publish = publish_elsewhere  # type: ignore[method-assign]
        return bus

    yield make
    for bus in buses:
        await bus.close()


@pytest.fixture
async def bus(make_bus: Callable[..., Any]) -> EventBus:
    made: EventBus = await make_bus()
    return made


@pytest.fixture
async def redis_bus_factory(redis_url: str) -> AsyncIterator[Callable[..., Any]]:
    buses: list[RedisEventBus] = []
    prefix = f"test-{uuid.uuid4().hex}:"

    async def make(**kwargs: Any) -> RedisEventBus:
        bus = RedisEventBus(redis_url, prefix=prefix, reconnect_min_delay=0.05, **kwargs)
        buses.append(bus)
        await bus.start()
        return bus

    make.prefix = prefix  # type: ignore[attr-defined]
    yield make
    for bus in buses:
        await bus.close()


def published(event_type: str) -> float:
    value = REGISTRY.get_sample_value("townhall_events_published_total", {"type": event_type})
    return value or 0.0


# -- both backends


async def test_a_subscriber_gets_events_on_its_topic_and_no_others(bus: EventBus) -> None:
    inbox = Inbox()
    bus.subscribe("channel:messaging:a", inbox)
    await bus.ready()

    await bus.publish(Ping(topic="channel:messaging:b", n=1))
    await bus.publish(Ping(topic="channel:messaging:a-longer", n=2))
    await bus.publish(Ping(topic="channel:messaging:a", n=3))
    await inbox.wait_for(1)
    await asyncio.sleep(0.05)

    [got] = inbox.events
    assert isinstance(got, Ping)
    assert got == Ping(topic="channel:messaging:a", n=3, created_at=got.created_at)


async def test_a_prefix_pattern_gets_every_topic_under_the_prefix(bus: EventBus) -> None:
    inbox = Inbox()
    bus.subscribe("channel:*", inbox)
    await bus.ready()

    await bus.publish(Ping(topic="channel:messaging:a", n=1))
    await bus.publish(Ping(topic="user:7", n=2))
    await bus.publish(Pong(topic="channel:team:b", n=3))
    await inbox.wait_for(2)
    await bus.publish(Ping(topic="channel:fence", n=4))
    await inbox.wait_for(3)

    assert inbox.numbers == [1, 3, 4]
    assert [type(e) for e in inbox.events] == [Ping, Pong, Ping]


async def test_topics_with_glob_characters_are_matched_literally(bus: EventBus) -> None:
    inbox = Inbox()
    bus.subscribe("channel:messaging:a?[b]*", inbox)
    await bus.ready()

    await bus.publish(Ping(topic="channel:messaging:ax[b]", n=1))  # would match as a glob
    await bus.publish(Ping(topic="channel:messaging:a?[b]!x", n=2))
    await inbox.wait_for(1)
    await asyncio.sleep(0.05)

    assert inbox.numbers == [2]


async def test_overlapping_subscriptions_each_get_the_event_exactly_once(bus: EventBus) -> None:
    everything, channels, exact, exact_again, prefix_of_exact = (Inbox() for _ in range(5))
    bus.subscribe("*", everything)
    bus.subscribe("channel:*", channels)
    bus.subscribe("channel:messaging:a", exact)
    bus.subscribe("channel:messaging:a", exact_again)
    bus.subscribe("channel:messaging:a*", prefix_of_exact)
    await bus.ready()

    await bus.publish(Ping(topic="channel:messaging:a", n=1))
    fence = Ping(topic="channel:messaging:a", n=2)
    await bus.publish(fence)
    for inbox in (everything, channels, exact, exact_again, prefix_of_exact):
        await inbox.wait_for_event(fence)
    await asyncio.sleep(0.05)

    for inbox in (everything, channels, exact, exact_again, prefix_of_exact):
        assert inbox.numbers == [1, 2]


async def test_events_arrive_in_publish_order(bus: EventBus) -> None:
    exact, prefix = Inbox(), Inbox()
    bus.subscribe("room:1", exact)
    bus.subscribe("room:*", prefix)
    await bus.ready()

    for n in range(300):
        await bus.publish(Ping(topic="room:1", n=n))
    await exact.wait_for(300)
    await prefix.wait_for(300)

    assert exact.numbers == list(range(300))
    assert prefix.numbers == list(range(300))


async def test_events_published_at_once_by_one_process_reach_it_in_the_order_publish_was_called(
    bus: EventBus, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.params["make_bus"] == "redis-across":
        pytest.skip("from another process: concurrent PUBLISHes on pooled connections have no order")
    inbox = Inbox()
    bus.subscribe("room:1", inbox)
    await bus.ready()
    for start in range(0, 200, 20):
        await asyncio.gather(*(bus.publish(Ping(topic="room:1", n=n)) for n in range(start, start + 20)))
    await inbox.wait_for(200)
    assert inbox.numbers == list(range(200))


async def test_a_handler_that_raises_does_not_stop_delivery(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def broken(event: Event) -> None:
        calls.append(event.n)  # type: ignore[attr-defined]
        raise RuntimeError("handler bug")

    healthy = Inbox()
    bus.subscribe("room:1", broken)
    bus.subscribe("room:1", healthy)
    await bus.ready()

    for n in range(3):
        await bus.publish(Ping(topic="room:1", n=n))
    await healthy.wait_for(3)
    async with asyncio.timeout(5):
        while len(calls) < 3:
            await asyncio.sleep(0.01)

    assert healthy.numbers == [0, 1, 2]
    assert calls == [0, 1, 2]
    failures = [r for r in caplog.records if r.name == BUS_LOGGER and r.levelno == logging.ERROR]
    assert len(failures) == 3
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in failures)


async def test_a_slow_handler_does_not_block_publish_or_other_subscribers(bus: EventBus) -> None:
    gate = asyncio.Event()
    slow_got: list[int] = []

    async def slow(event: Event) -> None:
        await gate.wait()
        slow_got.append(event.n)  # type: ignore[attr-defined]

    fast = Inbox()
    bus.subscribe("room:1", slow)
    bus.subscribe("room:1", fast)
    await bus.ready()

    async with asyncio.timeout(5):  # would hang if publish awaited the slow handler
        for n in range(50):
            await bus.publish(Ping(topic="room:1", n=n))
    await fast.wait_for(50)
    assert slow_got == []

    gate.set()
    async with asyncio.timeout(5):
        while len(slow_got) < 50:
            await asyncio.sleep(0.01)
    assert slow_got == list(range(50))


async def test_a_full_queue_drops_the_oldest_events_and_warns_once(
    make_bus: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    bus = await make_bus(queue_size=5)
    gate = asyncio.Event()
    got: list[int] = []

    async def slow(event: Event) -> None:
        await gate.wait()
        got.append(event.n)  # type: ignore[attr-defined]

    fence = Inbox()
    bus.subscribe("room:1", slow)
    bus.subscribe("room:fence", fence)
    await bus.ready()

    for n in range(20):
        await bus.publish(Ping(topic="room:1", n=n))
    await bus.publish(Ping(topic="room:fence"))
    await fence.wait_for(1)  # so all 20 have been offered to the slow subscriber
    gate.set()
    async with asyncio.timeout(5):
        while not got or got[-1] != 19:
            await asyncio.sleep(0.01)

    # What survives: the newest five, maybe behind the one the handler was already holding.
    assert got[-5:] == [15, 16, 17, 18, 19]
    assert len(got) <= 6
    assert got == sorted(got)
    warnings = [r for r in caplog.records if r.name == BUS_LOGGER and "too slow" in r.message]
    assert len(warnings) == 1


async def test_a_subscription_gets_only_the_events_it_wants(bus: EventBus) -> None:
    picky, everything = Inbox(), Inbox()
    asked: list[tuple[type[Event], str]] = []

    def wants(cls: type[Event], topic: str) -> bool:
        asked.append((cls, topic))
        return issubclass(cls, Ping) and topic != "room:2"

    bus.subscribe("room:*", picky, wants=wants)
    bus.subscribe("room:*", everything)
    await bus.ready()
    for event in (Ping(topic="room:1", n=1), Pong(topic="room:1", n=2), Ping(topic="room:2", n=3),
                  Ping(topic="room:3", n=4)):
        await bus.publish(event)
    await everything.wait_for(4)
    await picky.wait_for(2)
    await asyncio.sleep(0.05)
    assert picky.numbers == [1, 4]
    assert (Pong, "room:1") in asked and (Ping, "room:2") in asked


async def test_a_closed_subscription_gets_nothing_more(bus: EventBus) -> None:
    closing, staying = Inbox(), Inbox()
    sub = bus.subscribe("room:1", closing)
    bus.subscribe("room:1", staying)
    await bus.ready()
    await bus.publish(Ping(topic="room:1", n=1))
    await closing.wait_for(1)

    sub.close()
    sub.close()  # idempotent
    await bus.publish(Ping(topic="room:1", n=2))
    await staying.wait_for(2)
    await asyncio.sleep(0.05)

    assert closing.numbers == [1]
    assert staying.numbers == [1, 2]


async def test_queued_events_are_not_delivered_after_close(bus: EventBus) -> None:
    gate = asyncio.Event()
    got: list[int] = []

    async def slow(event: Event) -> None:
        await gate.wait()
        got.append(event.n)  # type: ignore[attr-defined]

    fence = Inbox()
    sub = bus.subscribe("room:1", slow)
    bus.subscribe("room:1", fence)
    await bus.ready()
    for n in range(5):
        await bus.publish(Ping(topic="room:1", n=n))
    await fence.wait_for(5)

    sub.close()
    gate.set()
    await asyncio.sleep(0.05)

    assert got in ([], [0])  # at most the event the handler was already holding


async def test_a_handler_can_close_its_own_subscription(bus: EventBus) -> None:
    got: list[int] = []
    subs: list[Subscription] = []

    async def once(event: Event) -> None:
        got.append(event.n)  # type: ignore[attr-defined]
        subs[0].close()

    fence = Inbox()
    subs.append(bus.subscribe("room:1", once))
    bus.subscribe("room:1", fence)
    await bus.ready()
    for n in range(3):
        await bus.publish(Ping(topic="room:1", n=n))
    await fence.wait_for(3)
    await asyncio.sleep(0.05)

    assert got == [0]


async def test_a_pattern_can_be_subscribed_again_after_its_last_subscriber_closed(
    bus: EventBus,
) -> None:
    first = Inbox()
    bus.subscribe("room:1", first).close()
    bus.subscribe("room:*", first).close()
    await bus.ready()
    second = Inbox()
    bus.subscribe("room:1", second)
    await bus.ready()

    await bus.publish(Ping(topic="room:1", n=1))
    await second.wait_for(1)

    assert second.numbers == [1]
    assert first.events == []


async def test_publish_counts_events_by_type(bus: EventBus) -> None:
    before = published(Pong.type)
    await bus.publish(Pong(topic="room:nobody-listens"))
    await bus.publish(Pong(topic="room:nobody-listens"))
    assert published(Pong.type) == before + 2


async def test_start_and_close_are_idempotent_and_a_closed_bus_refuses_work(
    bus: EventBus,
) -> None:
    await bus.start()
    await bus.close()
    await bus.close()
    with pytest.raises(EventBusError):
        await bus.publish(Ping(topic="room:1"))
    with pytest.raises(EventBusError):
        bus.subscribe("room:1", Inbox())


async def test_closing_the_bus_stops_a_running_handler(bus: EventBus) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(event: Event) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    bus.subscribe("room:1", stuck)
    await bus.ready()
    await bus.publish(Ping(topic="room:1"))
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(bus.close(), 5)
    assert cancelled.is_set()


def test_patterns_are_a_topic_or_a_prefix_ending_in_a_star() -> None:
    bus = MemoryEventBus()
    for bad in ("", "channel:*:x", "*channel"):
        with pytest.raises(ValueError):
            bus.subscribe(bad, Inbox())
    bus.subscribe("*", Inbox())  # everything


def test_create_bus_picks_redis_only_when_a_url_is_given() -> None:
    assert isinstance(create_bus(None), MemoryEventBus)
    assert isinstance(create_bus(""), MemoryEventBus)
    assert isinstance(create_bus("redis://127.0.0.1:6379/15"), RedisEventBus)


async def test_a_memory_bus_delivers_to_handlers_subscribed_before_start() -> None:
    bus = MemoryEventBus()
    inbox = Inbox()
    bus.subscribe("room:1", inbox)
    await bus.start()
    await bus.publish(Ping(topic="room:1", n=1))
    await inbox.wait_for(1)
    await bus.close()


# -- Redis only


async def test_events_published_by_one_redis_bus_reach_another(
    redis_bus_factory: Callable[..., Any],
) -> None:
    here, there = await redis_bus_factory(), await redis_bus_factory()
    local, remote, remote_prefix = Inbox(), Inbox(), Inbox()
    here.subscribe("channel:messaging:a", local)
    there.subscribe("channel:messaging:a", remote)
    there.subscribe("channel:*", remote_prefix)
    await here.ready()
    await there.ready()

    for n in range(3):
        await here.publish(Ping(topic="channel:messaging:a", n=n))
    for inbox in (local, remote, remote_prefix):
        await inbox.wait_for(3)

    assert local.numbers == remote.numbers == remote_prefix.numbers == [0, 1, 2]


async def test_subscriptions_made_before_start_are_active_after_it(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}:"
    bus = RedisEventBus(redis_url, prefix=prefix)
    inbox = Inbox()
    bus.subscribe("room:1", inbox)
    try:
        await bus.start()
        await bus.ready()
        await bus.publish(Ping(topic="room:1", n=1))
        await inbox.wait_for(1)
    finally:
        await bus.close()


async def test_events_go_over_redis_as_json_on_the_prefixed_channel(
    redis_url: str, redis_bus_factory: Callable[..., Any]
) -> None:
    bus = await redis_bus_factory()
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    try:
        channel = f"{redis_bus_factory.prefix}room:1"  # type: ignore[attr-defined]
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        event = Ping(topic="room:1", n=5)
        await bus.publish(event)
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message is not None
        sent = orjson.loads(message["data"])
        assert sent["type"] == "test.bus.ping" and sent["origin"]
        assert sent["data"] == orjson.loads(event.to_json())["data"]
        assert Event.from_json(message["data"]) == event
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


async def test_an_event_from_another_bus_that_no_subscription_wants_is_never_decoded(
    redis_bus_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, sender = await redis_bus_factory(), await redis_bus_factory()
    decoded: list[bytes | str] = []
    real_from_json = Event.from_json

    def counting_from_json(raw: bytes | str) -> Event:
        decoded.append(raw)
        return real_from_json(raw)

    monkeypatch.setattr(Event, "from_json", staticmethod(counting_from_json))
    inbox = Inbox()
    receiver.subscribe("room:*", inbox, wants=lambda cls, topic: issubclass(cls, Pong))
    await receiver.ready()
    await sender.publish(Ping(topic="room:1", n=1))
    await sender.publish(Pong(topic="room:1", n=2))
    await inbox.wait_for(1)
    assert inbox.numbers == [2] and len(decoded) == 1


async def test_a_bus_delivers_its_own_events_once_without_decoding_its_echo(
    redis_bus_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    bus, other = await redis_bus_factory(), await redis_bus_factory()
    decoded: list[bytes | str] = []
    real_from_json = Event.from_json
    monkeypatch.setattr(Event, "from_json", staticmethod(lambda raw: decoded.append(raw) or real_from_json(raw)))
    here, there = Inbox(), Inbox()
    bus.subscribe("room:*", here)
    other.subscribe("room:*", there)
    await bus.ready()
    await other.ready()
    event = Ping(topic="room:1", n=7)
    await bus.publish(event)
    await there.wait_for(1)
    await asyncio.sleep(0.1)  # the echo has come back to ``bus`` by now
    assert here.events == [event] and there.events == [event]
    assert len(decoded) == 1  # by ``other`` only


async def test_an_event_of_unknown_type_is_logged_and_skipped(
    redis_url: str, redis_bus_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    bus = await redis_bus_factory()
    inbox = Inbox()
    bus.subscribe("room:1", inbox)
    await bus.ready()

    client = aioredis.Redis.from_url(redis_url)
    try:
        channel = f"{redis_bus_factory.prefix}room:1"  # type: ignore[attr-defined]
        future = b'{"type":"test.bus.from-the-future","data":{"topic":"room:1"}}'
        await client.publish(channel, future)
        await client.publish(channel, b"not json")
    finally:
        await client.aclose()
    await bus.publish(Ping(topic="room:1", n=1))
    await inbox.wait_for(1)

    assert inbox.numbers == [1]
    messages = [r.getMessage() for r in caplog.records if r.name == BUS_LOGGER]
    assert any("unknown type" in m and "test.bus.from-the-future" in m for m in messages)
    assert any("cannot be decoded" in m for m in messages)


async def test_the_reader_reconnects_and_resubscribes_when_the_connection_drops(
    redis_url: str, redis_bus_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    bus = await redis_bus_factory()
    exact, prefix = Inbox(), Inbox()
    bus.subscribe("room:1", exact)
    bus.subscribe("room:*", prefix)
    await bus.ready()

    admin = aioredis.Redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c["name"] == bus.client_name]
        assert len(ids) == 1
        assert await admin.client_kill_filter(_id=ids[0]) == 1
        async with asyncio.timeout(5):  # wait until the reader is back on a new connection
            while True:
                clients = await admin.client_list()
                if [c for c in clients if c["name"] == bus.client_name and c["id"] != ids[0]]:
                    break
                await asyncio.sleep(0.02)
    finally:
        await admin.aclose()
    await bus.ready()

    await bus.publish(Ping(topic="room:1", n=1))
    await exact.wait_for(1)
    await prefix.wait_for(1)

    assert exact.numbers == prefix.numbers == [1]
    assert any("lost its Redis connection" in r.getMessage() for r in caplog.records)


async def test_publish_and_start_raise_a_clear_error_when_redis_is_unreachable() -> None:
    bus = RedisEventBus("redis://:secret@127.0.0.1:1/0", connect_timeout=0.5)
    try:
        with pytest.raises(EventBusError, match="Redis at redis://:\\*\\*\\*@127.0.0.1:1/0"):
            await bus.publish(Ping(topic="room:1"))
        with pytest.raises(EventBusError, match="cannot connect to Redis"):
            await bus.start()
    finally:
        await bus.close()
