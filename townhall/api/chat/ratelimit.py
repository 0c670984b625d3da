"""Per-endpoint rate limits (requests per minute), in fixed one-minute windows.

Server-side calls are counted per app, client-side calls per user. The counters live in this
process (``RateLimiter``) or, when townhall runs several processes, in Redis
(``RedisRateLimiter``), so that every process counts against the same budget. If Redis cannot be
reached a request is let through (and logged): losing the limiter must not take the API down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

DEFAULT_SERVER = 10_000
DEFAULT_CLIENT = 1_000
# Stream's tighter defaults for a few endpoints: (server-side, client-side) per minute.
OVERRIDES = {
    "UpdateUsers": (1_000, 60),
    "QueryUsers": (1_000, 300),
    "QueryChannels": (10_000, 300),
    "Search": (1_000, 60),
    "SendEvent": (10_000, 1_000),
    "DeleteUsers": (100, 60),
    "GetRateLimits": (1_000, 60),
}
WINDOW = 60


@dataclass(slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends


class RateLimiter:
    """The limits, and counters kept in this process."""

    def __init__(self, multiplier: float = 1.0, per_endpoint: dict[str, int] | None = None) -> None:
        self.multiplier = multiplier
        self.per_endpoint = per_endpoint or {}
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}

    def limit_for(self, endpoint: str, server: bool) -> int:
        if endpoint in self.per_endpoint:
            return self.per_endpoint[endpoint]
        server_limit, client_limit = OVERRIDES.get(endpoint, (DEFAULT_SERVER, DEFAULT_CLIENT))
        return max(1, int((server_limit if server else client_limit) * self.multiplier))

    @property
    def enabled(self) -> bool:
        return self.multiplier > 0

    async def hit(self, endpoint: str, subject: str, server: bool, now: float | None = None) -> Verdict:
        """Count one request; it is allowed while the window's count stays within the limit."""
        window = int((time.time() if now is None else now) // WINDOW)
        limit = self.limit_for(endpoint, server)
        count = await self._increment(endpoint, subject, window)
        return Verdict(count <= limit, limit, max(0, limit - count), (window + 1) * WINDOW)

    async def snapshot(self, endpoints: list[str], server: bool, subject: str | None,
                       now: float | None = None) -> dict[str, dict[str, int]]:
        """Limits of ``endpoints`` and what ``subject`` has left of them in this window."""
        window = int((time.time() if now is None else now) // WINDOW)
        used = await self._counts(endpoints, subject, window) if subject is not None else {}
        out = {}
        for endpoint in endpoints:
            limit = self.limit_for(endpoint, server)
            out[endpoint] = {"limit": limit, "remaining": max(0, limit - used.get(endpoint, 0)),
                             "reset": (window + 1) * WINDOW}
        return out

    async def close(self) -> None:
        pass

    async def _increment(self, endpoint: str, subject: str, window: int) -> int:
        key = (endpoint, subject)
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            count = 0
            if len(self._windows) > 100_000:  # drop stale windows now and then
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        self._windows[key] = (window, count + 1)
        return count + 1

    async def _counts(self, endpoints: list[str], subject: str, window: int) -> dict[str, int]:
        out = {}
        for endpoint in endpoints:
            start, count = self._windows.get((endpoint, subject), (window, 0))
            out[endpoint] = count if start == window else 0
        return out


class RedisRateLimiter(RateLimiter):
    """The same limits, counted in Redis and so shared by every process."""

    def __init__(self, redis_url: str, multiplier: float = 1.0, per_endpoint: dict[str, int] | None = None,
                 prefix: str = "townhall:ratelimit:") -> None:
        super().__init__(multiplier, per_endpoint)
        self._redis: Redis = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self._prefix = prefix

    def _key(self, endpoint: str, subject: str, window: int) -> str:
        return f"{self._prefix}{window}:{endpoint}:{subject}"

    async def _increment(self, endpoint: str, subject: str, window: int) -> int:
        key = self._key(endpoint, subject, window)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2 * WINDOW)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate limiter: Redis unavailable, request let through (%s)", exc)
            return 0
        return int(count)

    async def _counts(self, endpoints: list[str], subject: str, window: int) -> dict[str, int]:
        try:
            values = await self._redis.mget([self._key(e, subject, window) for e in endpoints])
        except (RedisError, OSError) as exc:
            log.warning("rate limiter: Redis unavailable (%s)", exc)
            return {}
        return {e: int(v) for e, v in zip(endpoints, values, strict=True) if v is not None}

    async def close(self) -> None:
        await self._redis.aclose()
