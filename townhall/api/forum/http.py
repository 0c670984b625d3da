"""Request plumbing of the forum surface: Basic auth, paging, JSON responses, the unit of work
that writes webhook events to the outbox before it commits."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from townhall.api.common.ratelimit import WindowCounter
from townhall.api.forum import render
from townhall.api.forum.errors import ForumError
from townhall.container import Container
from townhall.core.errors import DomainError
from townhall.core.forum import hooks, idempotency, keys
from townhall.core.forum.models import ApiUser, Page
from townhall.core.uow import UnitOfWork

log = logging.getLogger(__name__)

SURFACE = hooks.SURFACE
MAX_SYSTEM = 255
Id = Annotated[int, Path(ge=1, le=2**62, description="an id")]


def container_of(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


async def api_user(request: Request) -> ApiUser:
    """HTTP Basic: username = the calling system (kept for audit), password = an API key."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ForumError(403, "missing credentials: use HTTP Basic auth with your API key as the password")
    try:
        system, colon, key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ForumError(403, "malformed Basic credentials") from exc
    if not colon or not key:
        raise ForumError(403, "incorrect API key")
    if not system.isprintable() or not key.isprintable():  # NUL or control characters: stored nowhere
        raise ForumError(403, "malformed Basic credentials: control characters")
    try:
        async with container_of(request).read() as conn:
            caller = await keys.authenticate(conn, system[:MAX_SYSTEM], key)
    except DomainError as exc:
        raise ForumError(403, exc.message) from exc
    request.state.api_system = caller.system  # for the access log / audit
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.check(caller.key_id)
    return caller


class RateLimiter:
    """Requests per minute per API key, in fixed one-minute windows of the shared counter (in
    Redis when townhall runs several processes, so the limit holds across them)."""

    def __init__(self, per_minute: int, counter: WindowCounter) -> None:
        self.per_minute = per_minute
        self.counter = counter

    async def check(self, key_id: int) -> None:
        verdict = await self.counter.hit(f"key:{key_id}", self.per_minute)
        if not verdict.allowed:
            raise ForumError(429, f"rate limit of {self.per_minute} requests per minute exceeded; "
                                  f"retry in {verdict.retry_after(self.counter.clock())}s")

    async def close(self) -> None:
        await self.counter.close()


Caller = Annotated[ApiUser, Depends(api_user)]


def paging(page: Annotated[int, Query(ge=1, le=1_000_000, description="page number, from 1")] = 1,
           page_size: Annotated[int, Query(ge=1, le=50, description="items per page (max 50)")] = 10) -> Page:
    return Page(page, page_size)


Paging = Annotated[Page, Depends(paging)]


def respond(payload: Any, *, has_more: bool | None = None) -> Response:
    response = Response(orjson.dumps(render.drop_nulls(payload)), media_type="application/json")
    if has_more is not None:
        response.headers["has_more"] = "1" if has_more else "0"
    return response


def respond_list(items: list[Any], has_more: bool, shape: Callable[[Any], dict[str, Any]]) -> Response:
    return respond([shape(i) for i in items], has_more=has_more)


OK = {"message": "OK"}


@asynccontextmanager
async def unit(request: Request) -> AsyncIterator[UnitOfWork]:
    """A unit of work (its webhook events reach the outbox in it: ``Container.uow``), logged for audit."""
    async with container_of(request).uow() as uow:
        yield uow
    # The calling system (the Basic auth username) is kept for audit: who changed what.
    log.info("forum change", extra={"system": getattr(request.state, "api_system", None),
                                    "method": request.method, "path": request.url.path})


async def create_once(request: Request, api: ApiUser,
                      build: Callable[[UnitOfWork], Awaitable[dict[str, Any]]]) -> Response:
    """Run a create (``build`` makes the change and renders the answer) in a unit of work. With an
    ``Idempotency-Key`` header, a request seen before answers what it answered then."""
    header = request.headers.get("idempotency-key")
    if header is None:
        async with unit(request) as uow:
            payload = await build(uow)
        return respond(payload)
    key = idempotency.check_key(header)
    path = request.url.path
    body_hash = idempotency.request_hash(await request.body())
    async with container_of(request).read() as conn:
        stored = await idempotency.recall(conn, api, key, path, body_hash)
    if stored is not None:
        return respond(stored)
    try:
        async with unit(request) as uow:
            payload = await build(uow)
            await idempotency.remember(uow, api, key, path, body_hash, payload)
    except IntegrityError:  # the same key at the same moment: the other request won
        # Read through a unit of work: it sees the winner's row once the winner is committed,
        # also when SQLite commits units in batches (a plain read may come before that commit).
        async with container_of(request).uow() as uow:
            stored = await idempotency.recall(uow.conn, api, key, path, body_hash)
        if stored is None:
            raise
        return respond(stored)
    return respond(payload)
