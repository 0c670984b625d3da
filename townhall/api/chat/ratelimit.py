"""Per-endpoint rate limits (requests per minute), in fixed one-minute windows.

Server-side calls are counted per app, client-side calls per user. The counters live in this
process; with several processes each enforces its own share (a Redis counter store is the
scale-out path named in DESIGN.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

DEFAULT_SERVER = 10_000
DEFAULT_CLIENT = 1_000
# Stream's tighter defaults for a few endpoints.
OVERRIDES = {
    "UpdateUsers": (1_000, 60),
    "QueryUsers": (1_000, 300),
    "QueryChannels": (10_000, 300),
    "Search": (1_000, 60),
    "SendEvent": (10_000, 1_000),
    "DeleteUsers": (100, 60),
    "GetRateLimits": (1_000, 60),
}


@dataclass(slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends


class RateLimiter:
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

    def hit(self, endpoint: str, subject: str, server: bool, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        window = int(now // 60)
        reset = (window + 1) * 60
        limit = self.limit_for(endpoint, server)
        key = (endpoint, subject)
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            count = 0
            if len(self._windows) > 100_000:  # drop stale windows now and then
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        if count >= limit:
            self._windows[key] = (window, count)
            return Verdict(False, limit, 0, reset)
        self._windows[key] = (window, count + 1)
        return Verdict(True, limit, limit - count - 1, reset)

    def snapshot(self, endpoints: list[str], server: bool, subject: str | None,
                 now: float | None = None) -> dict[str, dict[str, int]]:
        """Limits of ``endpoints`` and what ``subject`` has left of them in this window."""
        now = time.time() if now is None else now
        window = int(now // 60)
        out = {}
        for endpoint in endpoints:
            limit = self.limit_for(endpoint, server)
            start, count = self._windows.get((endpoint, subject or ""), (window, 0))
            used = count if start == window and subject is not None else 0
            out[endpoint] = {"limit": limit, "remaining": max(0, limit - used), "reset": (window + 1) * 60}
        return out
