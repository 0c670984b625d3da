"""The forum surface's ASGI app: the habitate API under /api/v1, its errors, and the outbox worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townhall.api.common.ratelimit import PREFIX, build_counter
from townhall.api.forum import routes_boards, routes_posts, routes_tags, routes_users, routes_webhooks
from townhall.api.forum.errors import ForumError, error_response, from_domain
from townhall.api.forum.http import RateLimiter
from townhall.container import Container
from townhall.core.errors import DomainError
from townhall.core.forum import keys
from townhall.jobs.worker import OutboxWorker

log = logging.getLogger(__name__)

# The forum's rate-limit counters in Redis, apart from other surfaces'.
FORUM_PREFIX = f"{PREFIX}forum:"
ROUTERS = [m.router for m in (routes_posts, routes_boards, routes_users, routes_tags, routes_webhooks)]


class RequestGuard:
    """Refuses, in habitate's error JSON, request bodies over ``limit`` bytes (declared or
    streamed) and NUL characters anywhere in the request (no database stores them in text)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(ForumError(400, f"request body is larger than {self.limit} bytes"))
        has_nul = error_response(ForumError(400, "the request contains a NUL character"))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_large(scope, receive, send)
            return
        if _NUL in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await has_nul(scope, receive, send)
            return
        seen = 0
        tail = b""

        async def guarded() -> Message:
            nonlocal seen, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.limit:
                    raise _Refused(too_large)
                window = tail + chunk
                if b"\\u0000" in window or b"\x00" in window:
                    raise _Refused(has_nul)
                tail = window[-5:]
            return message

        try:
            await self.app(scope, guarded, send)
        except _Refused as refused:
            await refused.response(scope, receive, send)


_NUL = "\x00"


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def build_forum_app(container: Container) -> FastAPI:
    settings = container.settings.forum
    worker = OutboxWorker(container) if settings.worker_in_process else None
    limiter = (RateLimiter(settings.rate_limit_per_minute, build_counter(container.settings, FORUM_PREFIX))
               if settings.rate_limit_per_minute else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.api_key:
            try:
                async with container.uow() as uow:
                    await keys.ensure_key(uow, settings.api_key)
            except IntegrityError:  # another serving process made it at the same moment
                log.info("the configured forum API key was created by another process")
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.close()
            if limiter is not None:
                await limiter.close()

    app = FastAPI(
        title="townhall forum (habitate community API)",
        description="habitate compatible community API. Authenticate with HTTP Basic: username = your system's "
                    "name (kept for audit), password = an API key (`townhall forum-keys create`). Lists take "
                    "`page`/`page_size` and answer a `has_more` header (\"1\"/\"0\"). Errors are "
                    "`{id, status, time, message}`.\n\n"
                    "Webhooks (`POST /api/v1/webhooks`) are POSTed as `{event, job_id, entities: {<type>: [...]}}` "
                    "at least once and not in order (order by the entities' own timestamps), retried with "
                    "exponential backoff. Each request carries `X-Townhall-Timestamp` "
                    "(Unix seconds), `X-Townhall-Signature` (`sha256=` + hex HMAC-SHA256 with the subscription's "
                    "secret over `<timestamp>.<X-Townhall-Delivery>.<body>`), `X-Townhall-Delivery` (the same on "
                    "every attempt: "
                    "deduplicate on it), `X-Townhall-Attempt` and `X-Townhall-Event`. A subscription that keeps "
                    "failing is paused, its events kept; `POST /api/v1/webhooks/{id}/resume` delivers them. "
                    "Targets must resolve to public addresses only (loopback, private, link-local, multicast, "
                    "reserved... are refused at subscription and at each delivery) unless the server allows "
                    "them (`forum.allow_private_webhook_targets`).",
        docs_url="/docs", openapi_url="/openapi.json", redoc_url=None, lifespan=lifespan,
    )
    app.state.container = container
    app.state.worker = worker
    app.state.rate_limiter = limiter

    @app.exception_handler(ForumError)
    async def _forum_error(_: Request, exc: ForumError) -> Response:
        return error_response(exc)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> Response:
        return error_response(from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return error_response(ForumError(400, "Request payload validation errors: " + "; ".join(problems)))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(exc.status_code,
                                                                                          str(exc.detail))
        return error_response(ForumError(exc.status_code, message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ForumError(500, "internal server error"))

    for router in ROUTERS:
        app.include_router(router)
    app.state.routers = ROUTERS
    app.add_middleware(RequestGuard, limit=settings.max_request_bytes)
    return app
