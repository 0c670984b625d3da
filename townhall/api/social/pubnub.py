"""The PubNub-compatible gateway of the social surface: Clubhouse clients learn about room changes by
subscribing, with a PubNub SDK, to the channels of notes/clubhouse.md "Realtime".

The subset of PubNub's REST protocol the SDKs use to subscribe, at PubNub's own paths at the host's
root (so ``pubnub_origin`` is a plain host, as every PubNub SDK expects):

- ``GET /v2/subscribe/{sub_key}/{channels}/0?tt=&tr=&uuid=&auth=``: the long-poll. ``tt=0`` is the
  handshake and answers at once with the cursor to start from; any other ``tt`` answers the
  messages after it, waiting up to ``poll_seconds`` for some. Answer: ``{"t": {"t", "r"}, "m": [...]}``.
- ``GET /v2/presence/sub-key/{sub_key}/channel/{channels}/heartbeat`` and ``.../leave``.
- ``GET /time/0``: ``[timetoken]``.

The auth key is the ``pubnub_token`` that join_channel answers; the channels it may read are
decided in ``pubnub_gateway``. Errors are PubNub's JSON (``{"message", "error": true, "service",
"status"}``; a 403 names the refused channels in ``payload``). The subscribe key is not checked:
townhall serves one set of channels whatever key a client was built with.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route, get_route_path
from starlette.types import Receive, Scope

from townhall.api.social.pubnub_gateway import REGION, Access, PubNubGateway
from townhall.container import Container

POLL_SECONDS = 280.0  # under the SDKs' subscribe timeout (310 s)
MAX_CHANNELS = 50
PATH_PREFIXES = ("/v2/subscribe/", "/v2/presence/", "/time/")
_TIMETOKEN = re.compile(r"\d{1,19}")
_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET",
            "Cache-Control": "no-cache"}
_OK = orjson.dumps({"status": 200, "message": "OK", "service": "Presence"})
_LEFT = orjson.dumps({"status": 200, "message": "OK", "action": "leave", "service": "Presence"})


class PubNubError(Exception):
    """A request refused in PubNub's error format."""

    def __init__(self, status: int, message: str, service: str, payload: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.service, self.payload = status, message, service, payload


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=_HEADERS)


def _error_response(exc: PubNubError) -> Response:
    body: dict[str, Any] = {"message": exc.message, "error": True, "service": exc.service, "status": exc.status}
    if exc.payload is not None:
        body["payload"] = exc.payload
    return _json(orjson.dumps(body), exc.status)


def _gateway(request: Request) -> PubNubGateway:
    gateway: PubNubGateway = request.app.state.gateway
    return gateway


def _channels(request: Request, service: str) -> list[str]:
    names = list(dict.fromkeys(c for c in request.path_params["channels"].split(",") if c))
    if not names:
        raise PubNubError(400, "Channel group or groups result in empty subscription set", service)
    if len(names) > MAX_CHANNELS:
        raise PubNubError(400, f"Too many channels (at most {MAX_CHANNELS})", service)
    return names


async def _authorise(request: Request, channels: list[str], service: str) -> Access:
    """Refuse (403) unless the auth key may read every channel; channel groups are never granted."""
    groups = [g for g in request.query_params.get("channel-group", "").split(",") if g]
    if groups:
        raise PubNubError(403, "Forbidden", "Access Manager", {"channel-groups": groups})
    access = await _gateway(request).access(request.query_params.get("auth", ""), channels)
    if access.refused:
        raise _forbidden(access.refused)
    return access


def _forbidden(channels: list[str]) -> PubNubError:
    return PubNubError(403, "Forbidden", "Access Manager", {"channels": channels})


def _timetoken(request: Request) -> int:
    value = request.query_params.get("tt", "0")
    if not _TIMETOKEN.fullmatch(value):
        raise PubNubError(400, "Invalid Timetoken", "Balancer")
    return int(value)


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (the request has no body left to read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def subscribe(request: Request) -> Response:
    channels = _channels(request, "Balancer")
    after = _timetoken(request)
    access = await _authorise(request, channels, "Balancer")
    gateway = _gateway(request)
    gone = asyncio.ensure_future(_disconnected(request.receive))
    try:
        cursor, messages = await gateway.poll(channels, after, request.app.state.poll_seconds, gone,
                                              until=access.until)
    finally:
        gone.cancel()
    if access.until is not None and not messages:  # a revoked key has had its last messages
        raise _forbidden(channels)
    key = b',"k":' + orjson.dumps(request.path_params["sub_key"]) + b"}"
    entries = b",".join(m.head + key for m in messages)
    return _json(b'{"t":{"t":"%d","r":%d},"m":[%b]}' % (cursor, REGION, entries))


async def heartbeat(request: Request) -> Response:
    channels = _channels(request, "Presence")
    if (await _authorise(request, channels, "Presence")).until is not None:
        raise _forbidden(channels)
    return _json(_OK)


async def leave(request: Request) -> Response:
    """Always fine, without authorisation: leaving changes nothing here, and a client leaves after
    its room ended, when its auth key no longer grants anything."""
    _channels(request, "Presence")
    return _json(_LEFT)


async def time_now(request: Request) -> Response:
    return _json(b"[%d]" % _gateway(request).now())


async def _pubnub_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, PubNubError)
    return _error_response(exc)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not Found" if exc.status_code == 404 else str(exc.detail)
    return _error_response(PubNubError(exc.status_code, message, "Balancer"))


async def _server_error(_: Request, exc: Exception) -> Response:
    """Anything unexpected (the database down...): a 5xx the SDKs retry, in PubNub's format."""
    return _error_response(PubNubError(500, "Internal Server Error", "Balancer"))


def build_pubnub_app(container: Container, *, poll_seconds: float = POLL_SECONDS) -> Starlette:
    gateway = PubNubGateway(container)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.close()

    app = Starlette(
        routes=[
            Route("/v2/subscribe/{sub_key}/{channels}/0", subscribe, methods=["GET"]),
            Route("/v2/presence/sub-key/{sub_key}/channel/{channels}/heartbeat", heartbeat, methods=["GET"]),
            Route("/v2/presence/sub-key/{sub_key}/channel/{channels}/leave", leave, methods=["GET"]),
            Route("/time/0", time_now, methods=["GET"]),
        ],
        exception_handlers={PubNubError: _pubnub_error, HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.gateway = gateway
    app.state.poll_seconds = poll_seconds
    return app


class PubNubPaths(Mount):
    """Mounts the gateway at the host's root for PubNub's own paths only (the rest of the root
    belongs to whatever is mounted after it)."""

    def __init__(self, app: Starlette) -> None:
        super().__init__("", app=app)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and get_route_path(scope).startswith(PATH_PREFIXES):
            return super().matches(scope)
        return Match.NONE, {}
