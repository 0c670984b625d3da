"""Pure ASGI middleware counting HTTP requests and their latency per surface, method and status.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: it adds no task or stream per request and
never buffers a response. WebSockets and lifespan pass through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townhall.metrics import HTTP_LATENCY, HTTP_REQUESTS

ROOT = "root"  # the root app's own routes (/, /healthz, /metrics) and unknown paths
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, surfaces: Collection[str], aliases: Mapping[str, str] | None = None) -> None:
        self.app = app
        # first path segment -> label: each surface's own, plus ``aliases`` (e.g. PubNub's /v2, /time)
        self.labels = {name: name for name in surfaces} | dict(aliases or {})
        self._latencies: dict[str, Any] = {}
        self._counters: dict[tuple[str, str, int], Any] = {}

    def surface_of(self, path: str) -> str:
        # Only known names become label values, so scanners cannot grow the label set.
        segment = path.lstrip("/").split("/", 1)[0]
        return self.labels.get(segment, ROOT)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.measure(self.app, scope, receive, send)

    async def measure(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an HTTP request with ``app``, counting it (for a path that skips this middleware)."""
        surface = self.surface_of(scope["path"])
        status = 500  # unless a response starts
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_with_status)
        finally:
            self._latency(surface).observe(time.perf_counter() - start)
            self._requests(surface, scope["method"] if scope["method"] in METHODS else "OTHER", status).inc()

    def _latency(self, surface: str) -> Any:
        child = self._latencies.get(surface)
        if child is None:
            child = self._latencies[surface] = HTTP_LATENCY.labels(surface)
        return child

    def _requests(self, surface: str, method: str, status: int) -> Any:
        """The counter of (surface, method, status); labels() costs as much as the rest of this
        middleware, so the children are kept (a bounded set: known surfaces, methods, statuses)."""
        key = (surface, method, status)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = HTTP_REQUESTS.labels(surface, method, str(status))
        return child
