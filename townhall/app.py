"""The ASGI application: every surface mounted over one container (DESIGN.md).

``create_app(settings)`` builds its own container and its lifespan starts and closes it;
``create_app(container=...)`` uses the caller's container, which the caller starts and closes
(tests share one). Either way the lifespan then runs the lifespan of every mounted surface app:
that is where a surface puts its startup work (``FastAPI(lifespan=...)`` in its ``build_*_app``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp

from townhall import __version__
from townhall.api import chat, experts, forum, media, social, voice
from townhall.api.chat.lean import front_door
from townhall.api.common.landing import landing_page
from townhall.api.common.metrics_middleware import MetricsMiddleware
from townhall.api.common.surfaces import SURFACES
from townhall.config import Settings
from townhall.container import Container
from townhall.jobs.live import live_runtime
from townhall.realtime.wsframes import DirectFrames

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 3.0  # seconds per dependency


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    if container is None:
        container = Container.build(settings if settings is not None else Settings())
        owns_container = True
    else:
        owns_container = False

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if owns_container:
                await container.start()
                stack.push_async_callback(container.close)
            await stack.enter_async_context(live_runtime(container))
            for mounted in _mounted_apps(app):
                await stack.enter_async_context(mounted.router.lifespan_context(mounted))
            if owns_container:  # a serving process: what start-up made lives as long as it does
                gc.collect()
                gc.freeze()
            yield

    app = FastAPI(
        title="townhall",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.container = container
    # PubNub's paths (the social surface's room events, long-polls of up to 280 s) and the media
    # server's callbacks get labels of their own, apart from the root app's quick routes.
    metric_labels = {"surfaces": [s.segment for s in SURFACES],
                     "aliases": {"v2": "pubnub", "time": "pubnub", "media": "media"}}
    app.add_middleware(MetricsMiddleware, **metric_labels)
    # Outermost of the middleware, so that it sees the server's own WebSocket ``send`` (the chat
    # hub's fan-out; the chat front door below passes WebSockets through).
    app.add_middleware(DirectFrames)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def landing() -> HTMLResponse:
        return HTMLResponse(landing_page())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        checks = {
            "database": await _check(container.db.ping()),
            "bus": await _check(container.bus.ready()),
        }
        healthy = all(result == "ok" for result in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "error", **checks},
            status_code=200 if healthy else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    social.mount(app, container)
    social.mount_pubnub(app, container)
    voice.mount(app, container)
    forum.mount(app, container)
    experts.mount(app, container)
    media.mount(app, container)
    chat_app = chat.mount(app, container)
    # Stream's async Python SDK (aiohttp) drops any path in its base URL, so it can only reach a
    # chat API at a host's root: serve chat there as well, after every other route and surface.
    app.mount("/", chat_app)
    if container.settings.chat.lean_http:
        # Chat's REST requests, the busiest, skip the root app's middleware and routing and the
        # chat app's own stack (about a tenth of a sent message's CPU time): api/chat/lean.py.
        # Put in front when Starlette builds the stack (on the first request), so middleware and
        # exception handlers added to the app after this still count.
        def build_middleware_stack() -> ASGIApp:
            return front_door(FastAPI.build_middleware_stack(app), prefix="/chat", mounted=chat_app,
                              measure=MetricsMiddleware(app, **metric_labels).measure)

        app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn (``townhall serve``): settings from the ``TOWNHALL_*`` environment."""
    tune_gc()
    return create_app(Settings())


def tune_gc() -> None:
    """A serving process allocates many short-lived objects per request: collect the youngest
    generation every 20,000 allocations instead of 700 (measured on the chat send path: 0.56 →
    0.48 ms of CPU per message). The objects made at start-up are frozen once it is done (see the
    lifespan), so full collections do not walk them again."""
    gc.set_threshold(20_000, 50, 100)


def _mounted_apps(app: Starlette) -> list[Starlette]:
    """Each mounted surface app once (chat is mounted at /chat and at /)."""
    apps = [
        route.app
        for route in app.routes
        if isinstance(route, Mount) and isinstance(route.app, Starlette)
    ]
    return list({id(a): a for a in apps}.values())


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, HEALTH_TIMEOUT)
    except Exception as exc:  # any failure is the answer, not an error of /healthz
        log.warning("health check failed: %r", exc)  # details stay in the log, not the response
        return "error"
    return "ok"
