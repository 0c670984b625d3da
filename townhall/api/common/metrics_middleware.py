"""Pure ASGI middleware counting HTTP requests and their latency per surface, method and status.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: it adds no task or stream per request and
never buffers a response. WebSockets and lifespan pass through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townhall.metrics import HTTP_LATENCY, HTTP_REQUESTS

ROOT = "root"  # the root app's own routes (/, /healthz, /metrics) and unknown paths
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, surfaces: Collection[str]) -> None:
        self.app = app
        self.surfaces = frozenset(surfaces)

    def surface_of(self, path: str) -> str:
        # Only known names become label values, so scanners cannot grow the label set.
        segment = path.lstrip("/").split("/", 1)[0]
        return segment if segment in self.surfaces else ROOT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        surface = self.surface_of(scope["path"])
        status = 500  # unless a response starts
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            HTTP_LATENCY.labels(surface).observe(time.perf_counter() - start)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            HTTP_REQUESTS.labels(surface, method, str(status)).inc()
