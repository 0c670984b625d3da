"""Per-endpoint rate limits (requests per minute), in fixed one-minute windows.

Server-side calls are counted per app, client-side calls per user. The counting is the shared
fixed-window counter (api/common/ratelimit.py): in this process (``RateLimiter``) or, when townhall
runs several processes, in Redis (``RedisRateLimiter``), so that every process counts against the
same budget. If Redis cannot be reached a request is let through (and logged): losing the limiter
must not take the API down.
"""

from __future__ import annotations

from townhall.api.common.ratelimit import PREFIX, WINDOW, RedisWindowCounter, Verdict, WindowCounter

__all__ = ["DEFAULT_CLIENT", "DEFAULT_SERVER", "OVERRIDES", "WINDOW", "RateLimiter", "RedisRateLimiter", "Verdict"]

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


def _key(endpoint: str, subject: str) -> str:
    return f"{endpoint}:{subject}"


class RateLimiter:
    """Stream's limits, counted by ``counter`` (by default in this process)."""

    def __init__(self, multiplier: float = 1.0, per_endpoint: dict[str, int] | None = None,
                 counter: WindowCounter | None = None) -> None:
        self.multiplier = multiplier
        self.per_endpoint = per_endpoint or {}
        self.counter = counter if counter is not None else WindowCounter(WINDOW)

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
        return await self.counter.hit(_key(endpoint, subject), self.limit_for(endpoint, server), now)

    async def snapshot(self, endpoints: list[str], server: bool, subject: str | None,
                       now: float | None = None) -> dict[str, dict[str, int]]:
        """Limits of ``endpoints`` and what ``subject`` has left of them in this window."""
        window = self.counter.window_at(now)
        used: dict[str, int] = {}
        if subject is not None:
            counted = await self.counter.counts([_key(e, subject) for e in endpoints], window)
            used = {e: counted.get(_key(e, subject), 0) for e in endpoints}
        out = {}
        for endpoint in endpoints:
            limit = self.limit_for(endpoint, server)
            out[endpoint] = {"limit": limit, "remaining": max(0, limit - used.get(endpoint, 0)),
                             "reset": self.counter.reset_of(window)}
        return out

    async def close(self) -> None:
        await self.counter.close()


class RedisRateLimiter(RateLimiter):
    """The same limits, counted in Redis and so shared by every process."""

    def __init__(self, redis_url: str, multiplier: float = 1.0, per_endpoint: dict[str, int] | None = None,
                 prefix: str = PREFIX) -> None:
        super().__init__(multiplier, per_endpoint, RedisWindowCounter(redis_url, WINDOW, prefix))
