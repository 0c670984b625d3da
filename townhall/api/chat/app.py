"""The chat sub-application mounted at /chat: routers, error handlers, hub, rate limiter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from townhall.api.chat import (
    errors,
    routes_app,
    routes_channels,
    routes_messages,
    routes_users,
    ws,
)
from townhall.api.chat.errors import StreamError
from townhall.api.chat.http import Authenticator, add_rate_headers, authenticate, duration
from townhall.api.chat.hub import ChatHub
from townhall.api.chat.lean import LeanRoutes
from townhall.api.chat.ratelimit import RateLimiter
from townhall.api.common.ratelimit import build_counter
from townhall.container import Container
from townhall.core.chat.contexts import ChannelContexts
from townhall.core.errors import DomainError
from townhall.core.uow import COMMITTED

log = logging.getLogger(__name__)


def _error_response(request: Request, err: StreamError) -> Response:
    response = Response(orjson.dumps(errors.body(err, duration(request))), status_code=err.status,
                        media_type="application/json")
    add_rate_headers(request, response)
    return response


def render_error(request: Request, exc: Exception) -> Response:
    """Any exception of a chat request as Stream's error JSON (the app's one exception handler)."""
    if isinstance(exc, StreamError):
        err = exc
    elif isinstance(exc, DomainError):
        err = errors.from_domain(exc)
    elif isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        err = StreamError(400, errors.INPUT_ERROR, f"{where}: {first['msg']}")
    elif isinstance(exc, StarletteHTTPException):
        code = errors.NOT_FOUND if exc.status_code == 404 else errors.INPUT_ERROR
        err = StreamError(exc.status_code, code, str(exc.detail))
    else:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        err = StreamError(500, -1, "internal server error")
    return _error_response(request, err)


def build_chat_app(container: Container) -> FastAPI:
    hub = ChatHub(container)
    chat = container.settings.chat
    limiter = RateLimiter(chat.rate_limit_multiplier, chat.rate_limits, build_counter(container.settings))
    auth = Authenticator(container)
    contexts = ChannelContexts()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        users_changed = container.bus.subscribe("user:*", auth.on_user_event, wants=auth.wants_user_event)
        # Changes of this process are seen at commit, those of other processes through the bus.
        committed = container.extras.setdefault(COMMITTED, [])
        assert isinstance(committed, list)
        committed.append(contexts.observe)
        changed = ([container.bus.subscribe(p, contexts.on_event, wants=contexts.wants) for p in ("channel:*", "user:*")]
                   if container.settings.redis_url else [])
        try:
            yield
        finally:
            committed.remove(contexts.observe)
            for sub in (users_changed, *changed):
                sub.close()
            await hub.close()
            await limiter.close()

    app = FastAPI(
        title="townhall chat (Stream Chat API)",
        description="Stream Chat compatible REST API. Authenticate with the `api_key` query parameter "
                    "and a JWT in the `Authorization` header (`stream-auth-type: jwt`).",
        docs_url="/docs", openapi_url="/openapi.json", redoc_url=None, lifespan=lifespan,
    )
    app.state.container = container
    app.state.hub = hub
    app.state.auth = auth
    app.state.rate_limiter = limiter
    app.state.contexts = contexts

    @app.exception_handler(StreamError)
    @app.exception_handler(DomainError)
    @app.exception_handler(RequestValidationError)
    @app.exception_handler(StarletteHTTPException)
    @app.exception_handler(Exception)
    async def _error(request: Request, exc: Exception) -> Response:
        return render_error(request, exc)

    authenticated = [Depends(authenticate)]
    # Routes are matched in order: the busiest (messages) first.
    routers = [m.router for m in (routes_messages, routes_channels, routes_users, routes_app)]
    for router in routers:
        app.include_router(router, dependencies=authenticated)
    app.include_router(ws.router)
    lean_options = {"routes": app.router.routes, "routers": routers, "dependency": authenticate, "on_error": _error}
    app.add_middleware(LeanRoutes, **lean_options, enabled=chat.lean_http)
    app.state.lean_options = lean_options  # for lean.front_door
    # Stream's endpoint names (the route names), as GET /rate_limits lists them.
    app.state.routers = routers
    app.state.endpoints = sorted(r.name for router in routers for r in router.routes if isinstance(r, APIRoute))
    return app
