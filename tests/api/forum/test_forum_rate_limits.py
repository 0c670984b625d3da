"""The forum's requests a minute per API key, counted in the shared fixed-window counter: in Redis
the limit holds across processes; past it, habitate's 429 telling when to retry."""

from __future__ import annotations

import uuid

import pytest

from townhall.api.common.ratelimit import RedisWindowCounter, WindowCounter
from townhall.api.forum.errors import ForumError
from townhall.api.forum.http import RateLimiter


async def test_two_processes_share_one_redis_budget_per_key(redis_url: str) -> None:
    prefix = f"townhall-test:{uuid.uuid4().hex}:forum:"
    first, second = (RateLimiter(3, RedisWindowCounter(redis_url, prefix=prefix)) for _ in range(2))
    try:
        for limiter in (first, second, first):
            await limiter.check(7)
        with pytest.raises(ForumError) as refused:
            await second.check(7)
        assert refused.value.status == 429 and "rate limit of 3 requests per minute" in refused.value.message
        await second.check(8)  # another key: its own budget
    finally:
        await first.close()
        await second.close()


async def test_the_refusal_says_when_the_minute_ends() -> None:
    limiter = RateLimiter(1, WindowCounter(clock=lambda: 6000.0 + 45.5))
    await limiter.check(1)
    with pytest.raises(ForumError) as refused:
        await limiter.check(1)
    assert refused.value.message.endswith("retry in 15s")
