"""Fixed-window rate-limit counters, shared by every surface that limits requests.

A counter counts hits per key in fixed windows of ``window`` seconds (the window of a moment is
``int(now // window)``). The counts live in this process (``WindowCounter``) or, when townhall runs
several processes, in Redis (``RedisWindowCounter``: INCR + EXPIRE in one pipeline), so that every
process counts against the same budget. ``build_counter`` picks one from the settings: Redis when
``redis_url`` is set. If Redis cannot be reached a hit is let through (and logged): losing the
limiter must not take an API down. What a limit is, and how a refusal is answered, is each
surface's business; a counter only counts and says whether a hit stays within a given limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from townhall.config import Settings

log = logging.getLogger(__name__)

WINDOW = 60  # seconds
PREFIX = "townhall:ratelimit:"  # Redis keys: <prefix><window>:<key>
_MAX_KEYS = 100_000  # in-process keys kept before stale windows are dropped


@dataclass(slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends

    def retry_after(self, now: float | None = None) -> int:
        """Whole seconds until the window ends (at least 1): a ``Retry-After`` value."""
        return max(1, math.ceil(self.reset - (time.time() if now is None else now)))


class WindowCounter:
    """Hits per key in fixed windows, counted in this process."""

    def __init__(self, window: int = WINDOW, clock: Callable[[], float] = time.time) -> None:
        self.window = window
        self.clock = clock  # unix seconds; tests may set another
        self._windows: dict[str, tuple[int, int]] = {}

    def window_at(self, now: float | None = None) -> int:
        return int((self.clock() if now is None else now) // self.window)

    def reset_of(self, window: int) -> int:
        """Unix seconds when ``window`` ends."""
        return (window + 1) * self.window

    async def hit(self, key: str, limit: int, now: float | None = None) -> Verdict:
        """Count one hit of ``key``; it is allowed while the window's count stays within ``limit``."""
        window = self.window_at(now)
        count = await self.increment(key, window)
        return Verdict(count <= limit, limit, max(0, limit - count), self.reset_of(window))

    async def increment(self, key: str, window: int) -> int:
        """Add one to ``key``'s count in ``window`` and answer the count (0: not counted)."""
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            count = 0
            if len(self._windows) > _MAX_KEYS:  # drop stale windows now and then
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        self._windows[key] = (window, count + 1)
        return count + 1

    async def counts(self, keys: list[str], window: int) -> dict[str, int]:
        """The counts of ``keys`` in ``window`` (keys not seen in it may be left out)."""
        out = {}
        for key in keys:
            start, count = self._windows.get(key, (window, 0))
            out[key] = count if start == window else 0
        return out

    async def close(self) -> None:
        pass


class RedisWindowCounter(WindowCounter):
    """The same counts, kept in Redis and so shared by every process."""

    def __init__(self, redis_url: str, window: int = WINDOW, prefix: str = PREFIX,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(window, clock)
        self._redis: Redis = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self._prefix = prefix

    def _key(self, key: str, window: int) -> str:
        return f"{self._prefix}{window}:{key}"

    async def increment(self, key: str, window: int) -> int:
        name = self._key(key, window)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(name)
                pipe.expire(name, 2 * self.window)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate limiter: Redis unavailable, request let through (%s)", exc)
            return 0
        return int(count)

    async def counts(self, keys: list[str], window: int) -> dict[str, int]:
        try:
            values = await self._redis.mget([self._key(k, window) for k in keys])
        except (RedisError, OSError) as exc:
            log.warning("rate limiter: Redis unavailable (%s)", exc)
            return {}
        return {k: int(v) for k, v in zip(keys, values, strict=True) if v is not None}

    async def close(self) -> None:
        await self._redis.aclose()


def build_counter(settings: Settings, prefix: str = PREFIX, window: int = WINDOW) -> WindowCounter:
    """The counter the settings ask for: in Redis when ``redis_url`` is set, else in this process.
    ``prefix`` keeps one surface's Redis keys apart from another's."""
    if settings.redis_url:
        return RedisWindowCounter(settings.redis_url, window, prefix)
    return WindowCounter(window)
