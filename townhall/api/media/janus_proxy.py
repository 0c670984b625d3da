"""Janus signalling proxy (``/media/janus``): the Janus HTTP API, as clients of a Janus room use it.

Why it exists: Janus demands an api secret only townhall knows, so clients reach it only through
here, and the media layer's gate (townhall.media.janus_tickets) checks what they ask: a join must
carry the ticket townhall gave the user, and the ticket, not the client, says which participant
joins. This module only speaks HTTP: it reads the request, hands it to the backend's ``relay`` and
writes the answer.

Same paths and bodies as Janus's own HTTP transport, so Janus client libraries work when pointed at
``<townhall>/media/janus``: ``POST /janus`` (create), ``POST /janus/{session}`` (attach, keepalive,
destroy), ``POST /janus/{session}/{handle}`` (message, trickle, detach, hangup) and the long-poll
``GET /janus/{session}?maxev=N``. Janus's answers come back unchanged.

Refusals are Janus error answers with HTTP 200, as Janus itself answers errors, so clients handle them
the way they handle Janus's: ``{"janus": "error", "transaction": ..., "error": {"code": C, "reason":
...}}`` with code 403 (not relayed: a request a room client has no use for, a missing, altered or
expired ticket), 454 (the body is not JSON), 450 (body over ``MAX_BODY`` bytes), 457 (a session or
handle in the path that is not a number), 458 (no such session, long-poll), 404 (the media backend is
not Janus) or 503 (Janus cannot be reached).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware

from townhall.api.common.body import read_limited
from townhall.container import Container
from townhall.core.fields import is_digits
from townhall.media import MediaError, MediaUnavailable

MAX_BODY = 256 * 1024  # an SDP offer is a few KB
NOT_JANUS = 404
TRANSPORT = 450  # Janus's "transport specific error"
INVALID_JSON = 454
INVALID_PATH = 457
UNAVAILABLE = 503


class BodyTooLarge(Exception):
    pass


def _is_id(text: str) -> bool:
    """Janus's ids are below 2^64: at most 20 ASCII digits (and ``int()`` stays cheap)."""
    return len(text) <= 20 and is_digits(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def janus_error(code: int, reason: str, transaction: Any = None) -> JSONResponse:
    answer: dict[str, Any] = {"janus": "error", "error": {"code": code, "reason": reason}}
    if transaction is not None:
        answer["transaction"] = transaction
    return JSONResponse(answer)


async def _answered(call: Awaitable[Any], transaction: Any = None) -> JSONResponse:
    """Janus's answer as it came, or the error answer for what the backend raised."""
    try:
        return JSONResponse(await call)
    except MediaUnavailable:
        return janus_error(UNAVAILABLE, "the media server cannot be reached; retry later", transaction)
    except MediaError as exc:
        return janus_error(exc.code if isinstance(exc.code, int) else TRANSPORT, exc.message, transaction)


def add_routes(app: FastAPI, container: Container) -> None:
    # Browser clients on another origin, as Janus's own transport allows (``*``): the proxy uses no
    # cookies, a request is authorised by the ticket in its body, so any origin may call it.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"],
                       max_age=86400)

    def janus_backend() -> Any:
        """The Janus backend (it relays), or None when the media backend is another."""
        return container.media if hasattr(container.media, "relay") else None

    def not_janus() -> JSONResponse:
        return janus_error(NOT_JANUS, f"the media backend is {container.media.name}, not janus: no Janus to signal to")

    async def relay(request: Request, *path: str) -> JSONResponse:
        backend = janus_backend()
        if backend is None:
            return not_janus()
        if not all(_is_id(part) for part in path):
            return janus_error(INVALID_PATH, "session and handle ids in the path are numbers")
        try:
            raw = await read_limited(request, MAX_BODY, BodyTooLarge())
        except BodyTooLarge:
            return janus_error(TRANSPORT, f"request body over {MAX_BODY} bytes")
        try:
            message = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return janus_error(INVALID_JSON, "the request body is not JSON (or nests too deeply)")
        transaction = message.get("transaction") if isinstance(message, dict) else None
        if not isinstance(transaction, (str, int)) or isinstance(transaction, bool):
            transaction = None
        return await _answered(backend.relay(message, *(int(part) for part in path)), transaction)

    @app.post("/janus")
    async def janus_root(request: Request) -> JSONResponse:
        return await relay(request)

    @app.post("/janus/{session}")
    async def janus_session(request: Request, session: str) -> JSONResponse:
        return await relay(request, session)

    @app.post("/janus/{session}/{handle}")
    async def janus_handle(request: Request, session: str, handle: str) -> JSONResponse:
        return await relay(request, session, handle)

    @app.get("/janus/{session}")
    async def janus_long_poll(session: str, maxev: str = "1") -> JSONResponse:
        backend = janus_backend()
        if backend is None:
            return not_janus()
        if not _is_id(session):
            return janus_error(INVALID_PATH, "the session id in the path is a number")
        return await _answered(backend.relay_poll(int(session), int(maxev) if _is_id(maxev) else 1))
