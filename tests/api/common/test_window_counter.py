"""The shared fixed-window counter: the same contract in this process and in Redis, Redis shared
by processes, an unreachable Redis letting hits through, and the settings choosing the store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from townhall.api.common.ratelimit import RedisWindowCounter, WindowCounter, build_counter
from townhall.config import Settings


@pytest.fixture(params=["memory", "redis"])
async def counter_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., WindowCounter]]:
    made: list[WindowCounter] = []

    def make(window: int = 60) -> WindowCounter:
        if request.param == "memory":
            counter = WindowCounter(window)
        else:
            url = request.getfixturevalue("redis_url")
            counter = RedisWindowCounter(url, window, prefix=f"townhall-test:{uuid.uuid4().hex}:")
        made.append(counter)
        return counter

    yield make
    for counter in made:
        await counter.close()


async def test_a_key_is_allowed_its_limit_per_window_then_refused_until_the_next(counter_factory) -> None:
    counter = counter_factory(window=10)
    verdicts = [await counter.hit("k", 2, now=105.0) for _ in range(3)]
    assert [(v.allowed, v.remaining) for v in verdicts] == [(True, 1), (True, 0), (False, 0)]
    assert verdicts[0].reset == 110 and verdicts[0].retry_after(now=105.0) == 5
    assert (await counter.hit("other", 2, now=105.0)).allowed  # its own count
    counted = await counter.counts(["k", "other", "never"], counter.window_at(105.0))
    assert {k: counted.get(k, 0) for k in ("k", "other", "never")} == {"k": 3, "other": 1, "never": 0}
    assert (await counter.hit("k", 2, now=110.0)).allowed  # a new window


async def test_the_clock_decides_the_window_when_no_time_is_given(counter_factory) -> None:
    counter = counter_factory()
    now = [600.0]
    counter.clock = lambda: now[0]
    assert (await counter.hit("k", 1)).allowed
    assert not (await counter.hit("k", 1)).allowed
    now[0] = 660.0
    assert (await counter.hit("k", 1)).allowed


async def test_two_processes_share_one_redis_count(redis_url: str) -> None:
    prefix = f"townhall-test:{uuid.uuid4().hex}:"
    first, second = RedisWindowCounter(redis_url, prefix=prefix), RedisWindowCounter(redis_url, prefix=prefix)
    try:
        allowed = [(await c.hit("k", 3, now=0.0)).allowed for c in (first, second, first, second)]
        assert allowed == [True, True, True, False]
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_redis_lets_hits_through(caplog: pytest.LogCaptureFixture) -> None:
    counter = RedisWindowCounter("redis://127.0.0.1:1/0")
    try:
        assert all([(await counter.hit("k", 1)).allowed for _ in range(3)])
        assert "Redis unavailable" in caplog.text
    finally:
        await counter.close()


async def test_the_settings_choose_redis_when_a_redis_url_is_set(tmp_path: Path, redis_url: str) -> None:
    local = build_counter(Settings(data_dir=tmp_path))
    shared = build_counter(Settings(data_dir=tmp_path, redis_url=redis_url))
    try:
        assert type(local) is WindowCounter and isinstance(shared, RedisWindowCounter)
    finally:
        await shared.close()
