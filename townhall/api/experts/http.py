"""Request plumbing of the experts surface: who is calling (an ``oauth_token`` query or body
parameter, or ``Authorization: Bearer``), request parameters, JSON responses and Clarity's times."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from fastapi.responses import Response

from townhall.api.common.body import read_limited
from townhall.api.common.ratelimit import WindowCounter
from townhall.api.experts.errors import ExpertsError
from townhall.config import ExpertsSettings
from townhall.container import Container
from townhall.core.accounts import sessions
from townhall.core.experts import oauth, tokens

_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def container_of(request: Request) -> Container:
    return request.app.state.container


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def clarity_time(value: datetime | None) -> str | None:
    """Clarity's times: ``2012-08-03T12:10:46Z`` (UTC, whole seconds)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) beyond ``limit`` bytes, also when it is streamed."""
    return await read_limited(request, limit, ExpertsError(413, "request_too_large",
                                                           f"The request body is larger than {limit} bytes."))


async def params(request: Request) -> dict[str, Any]:
    """The query string with a form-encoded or JSON object body on top (the body wins), read once
    per request (a FastAPI dependency too). Clarity clients send parameters either way."""
    cached = getattr(request.state, "experts_params", None)
    if cached is not None:
        return cached
    data: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "").lower()
    parsed_form = getattr(request, "_form", None)  # a route that declared Form fields read it already
    if parsed_form is not None:
        data.update((key, value) for key, value in parsed_form.items() if isinstance(value, str))
    elif request.method in _BODY_METHODS and not ctype.startswith("multipart/"):
        raw = await _read_body(request, container_of(request).settings.experts.max_request_bytes)
        if raw.strip() and ctype.startswith("application/x-www-form-urlencoded"):
            try:
                data.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError as exc:
                raise ExpertsError(400, "invalid_request", "The form body is not UTF-8.") from exc
        elif raw.strip():
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ExpertsError(400, "invalid_request", "The request body is not valid JSON.") from exc
            if not isinstance(body, dict):
                raise ExpertsError(400, "invalid_request", "The request body must be a JSON object.")
            data.update(body)
    request.state.experts_params = data
    return data


async def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    if request.method in _BODY_METHODS and "oauth_token" not in request.query_params:
        token = (await params(request)).get("oauth_token")
    else:
        token = request.query_params.get("oauth_token")
    return token if isinstance(token, str) and token else None


async def _token_info(request: Request) -> tokens.TokenInfo:
    token = await _presented_token(request)
    if token is None:
        raise ExpertsError(401, "invalid_token", "An oauth_token is required.")
    async with container_of(request).read() as conn:
        info = await tokens.resolve(conn, token)
    if info is None:
        raise ExpertsError(401, "invalid_token", "The oauth_token is invalid, expired or revoked.")
    return info


async def current_member(request: Request) -> int:
    """The signed-in member's user id (a FastAPI dependency); 401 without a valid token."""
    return (await _token_info(request)).user_id


class MemberLimits:
    """What one member may do per minute (``experts.messages_per_minute``, ``calls_per_minute``),
    counted per member in the shared fixed-window counter; a limit of 0 is no limit."""

    MESSAGE = "message"
    CALL = "call"

    def __init__(self, settings: ExpertsSettings, counter: WindowCounter) -> None:
        self.per_minute = {self.MESSAGE: settings.messages_per_minute, self.CALL: settings.calls_per_minute}
        self.counter = counter

    async def check(self, action: str, member_id: int) -> None:
        """Count one ``action`` of the member; past the limit, 429 ``rate_limited`` with Retry-After."""
        limit = self.per_minute[action]
        if limit <= 0:
            return
        verdict = await self.counter.hit(f"{action}:{member_id}", limit)
        if not verdict.allowed:
            retry = verdict.retry_after(self.counter.clock())
            raise ExpertsError(429, "rate_limited", f"Too many {action}s: at most {limit} a minute. "
                                                    f"Retry in {retry} seconds.", {"Retry-After": str(retry)})

    async def close(self) -> None:
        await self.counter.close()


def member_within(action: str) -> Callable[[Request], Awaitable[int]]:
    """A FastAPI dependency: the signed-in member (``current_member``), once counted against their
    per-minute limit of ``action`` (``MemberLimits``), so a refused request does nothing."""

    async def member(request: Request) -> int:
        member_id = await current_member(request)
        await request.app.state.member_limits.check(action, member_id)
        return member_id

    return member


async def first_party_member(request: Request) -> int:
    """The caller when townhall itself signed them in (a FastAPI dependency): the townhall app's
    session token (``Authorization: Token <auth_token>``, as the authorization pages take it) or an
    ``oauth_token`` townhall issued with no application. What only the member may do (manage their
    applications and the applications they authorized) is refused to an application's token, which
    acts for the member but is not them: 403 ``insufficient_scope``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "token" and value.strip():
        session_token = value.strip()
        async with container_of(request).read() as conn:
            session = await sessions.session_by_auth_token(conn, session_token) if len(session_token) <= 256 else None
            if session is None:
                raise ExpertsError(401, "invalid_token", "The session token is invalid or revoked.")
            await oauth.check_member_may_authorize(conn, session.user_id)
        return session.user_id
    info = await _token_info(request)
    if info.client_id is not None:
        raise ExpertsError(403, "insufficient_scope", "An application's token cannot do this: sign in with your "
                                                      "townhall session (Authorization: Token <auth_token>).")
    return info.user_id
