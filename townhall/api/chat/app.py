"""The chat sub-application mounted at /chat: routers, error handlers, hub, rate limiter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
from townhall.api.chat.ratelimit import RateLimiter, RedisRateLimiter
from townhall.container import Container
from townhall.core.errors import DomainError

log = logging.getLogger(__name__)


def _error_response(request: Request, err: StreamError) -> Response:
    import orjson

    response = Response(orjson.dumps(errors.body(err, duration(request))), status_code=err.status,
                        media_type="application/json")
    add_rate_headers(request, response)
    return response


def build_chat_app(container: Container) -> FastAPI:
    hub = ChatHub(container)
    chat = container.settings.chat
    limiter = (RedisRateLimiter(container.settings.redis_url, chat.rate_limit_multiplier, chat.rate_limits)
               if container.settings.redis_url else RateLimiter(chat.rate_limit_multiplier, chat.rate_limits))
    auth = Authenticator(container)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        users_changed = container.bus.subscribe("user:*", auth.on_user_event)
        try:
            yield
        finally:
            users_changed.close()
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

    @app.exception_handler(StreamError)
    async def _stream_error(request: Request, exc: StreamError) -> Response:
        return _error_response(request, exc)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        return _error_response(request, errors.from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error_response(request, StreamError(400, errors.INPUT_ERROR, f"{where}: {first['msg']}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = errors.NOT_FOUND if exc.status_code == 404 else errors.INPUT_ERROR
        return _error_response(request, StreamError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(request, StreamError(500, -1, "internal server error"))

    authenticated = [Depends(authenticate)]
    # Routes are matched in order: the busiest (messages) first.
    routers = [m.router for m in (routes_messages, routes_channels, routes_users, routes_app)]
    for router in routers:
        app.include_router(router, dependencies=authenticated)
    app.include_router(ws.router)
    # Stream's endpoint names (the route names), as GET /rate_limits lists them.
    app.state.routers = routers
    app.state.endpoints = sorted(r.name for router in routers for r in router.routes if isinstance(r, APIRoute))
    return app
