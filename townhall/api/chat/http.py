"""Request plumbing of the chat surface: auth, rate limits, `duration`, Stream-shaped errors."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import orjson
from fastapi import Request
from fastapi.responses import Response

from townhall.api.chat.errors import (
    AUTH_ERROR,
    AUTH_KEY_ERROR,
    INPUT_ERROR,
    RATE_LIMITED,
    TOKEN_EXPIRED,
    TOKEN_NOT_VALID_YET,
    TOKEN_SIGNATURE_INVALID,
    StreamError,
)
from townhall.api.chat.ratelimit import RateLimiter
from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.accounts.events import UserDeleted, UserUpdated
from townhall.core.accounts.models import User
from townhall.core.cache import TTLCache
from townhall.core.chat import tokens
from townhall.core.chat.permissions import Actor
from townhall.core.clock import iso, now
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.events import Event

TOKEN_LEEWAY = 5  # seconds of clock skew allowed on exp/iat/nbf
ANONYMOUS = User(id=-1, chat_id="!anon", role="anonymous", created_at=now(), updated_at=now())


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed the request: the app (server token) or a user (user token / anonymous)."""

    server: bool
    user: User | None = None

    @property
    def actor(self) -> Actor:
        return Actor(user=self.user, server=self.server)

    @property
    def rate_subject(self) -> str:
        """Server-side calls are limited per app, client-side calls per user."""
        return "app" if self.server else f"user:{self.user.chat_id if self.user else '?'}"


def duration(request: Request) -> str:
    start = getattr(request.state, "started", None) or time.perf_counter()
    return f"{(time.perf_counter() - start) * 1000:.2f}ms"


def respond(request: Request, payload: dict[str, Any], status: int = 200) -> Response:
    payload["duration"] = duration(request)
    response = Response(orjson.dumps(payload), status_code=status, media_type="application/json")
    add_rate_headers(request, response)
    return response


def add_rate_headers(request: Request, response: Response) -> None:
    verdict = getattr(request.state, "rate", None)
    if verdict is not None:
        response.headers["x-ratelimit-limit"] = str(verdict.limit)
        response.headers["x-ratelimit-remaining"] = str(verdict.remaining)
        response.headers["x-ratelimit-reset"] = str(verdict.reset)


def container_of(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def decode_token(token: str, secret: str) -> dict[str, Any]:
    if token.lower().startswith("bearer "):
        token = token[7:]
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": []}, leeway=TOKEN_LEEWAY)
    except jwt.ExpiredSignatureError as exc:
        raise StreamError(401, TOKEN_EXPIRED, "JWTAuth error: token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise StreamError(401, TOKEN_NOT_VALID_YET, "JWTAuth error: token used before issue at (iat)") from exc
    except jwt.InvalidSignatureError as exc:
        raise StreamError(401, TOKEN_SIGNATURE_INVALID, "JWTAuth error: signature is not valid") from exc
    except jwt.PyJWTError as exc:
        raise StreamError(401, AUTH_ERROR, f"JWTAuth error: token is not valid: {exc}") from exc
    if not isinstance(claims, dict):
        raise StreamError(401, AUTH_ERROR, "JWTAuth error: token claims must be an object")
    return claims


class Authenticator:
    """Checks chat credentials. Remembers verified tokens (their expiry is still checked on every
    use) and the users it loaded for a second, so most requests need no database read to learn
    who is calling; a change to a user (or a token revocation) is seen within ``USER_TTL`` seconds."""

    TOKEN_TTL = 300.0
    USER_TTL = 1.0

    def __init__(self, container: Container) -> None:
        self.container = container
        self._claims: TTLCache[str, dict[str, Any]] = TTLCache(self.TOKEN_TTL)
        self.users: TTLCache[str, tuple[User, datetime | None]] = TTLCache(self.USER_TTL)

    def claims(self, token: str) -> dict[str, Any]:
        claims = self._claims.get(token)
        if claims is None:
            claims = decode_token(token, self.container.credentials.chat_api_secret)
            self._claims.put(token, claims)
        elif isinstance(claims.get("exp"), (int, float)) and claims["exp"] + TOKEN_LEEWAY < time.time():
            self._claims.forget(token)
            raise StreamError(401, TOKEN_EXPIRED, "JWTAuth error: token has expired")
        return claims

    async def on_user_event(self, event: Event) -> None:
        """Bus handler (``user:*``): forget a user changed by any process."""
        if isinstance(event, (UserUpdated, UserDeleted)):
            self.users.forget(event.user.chat_id)

    @staticmethod
    def wants_user_event(cls: type[Event], topic: str) -> bool:
        return issubclass(cls, (UserUpdated, UserDeleted))

    def forget(self, chat_ids: Iterable[str]) -> None:
        """Forget users this process just changed (their events arrive a moment later)."""
        for chat_id in chat_ids:
            self.users.forget(chat_id)

    async def user(self, chat_id: str) -> User | None:
        known = await self._known(chat_id)
        return known[0] if known is not None else None

    async def _known(self, chat_id: str) -> tuple[User, datetime | None] | None:
        """A user and the cutoff before which their tokens are revoked."""
        async def load() -> tuple[User, datetime | None] | None:
            async with self.container.read() as conn:
                user = (await accounts.get_users_by_chat_id(conn, [chat_id])).get(chat_id)
                return (user, await tokens.cutoff(conn, user.id)) if user is not None else None

        return await self.users.get_or_load(chat_id, load)

    async def authenticate(self, api_key: str | None, auth_type: str | None, token: str | None,
                           claimed_user_id: str | None = None) -> Caller:
        creds = self.container.credentials
        if not api_key:
            raise StreamError(401, AUTH_KEY_ERROR, "api_key is missing")
        if not hmac.compare_digest(api_key.encode(), creds.chat_api_key.encode()):
            raise StreamError(401, AUTH_KEY_ERROR, f"api_key not valid: {api_key}")
        if (auth_type or "jwt").lower() == "anonymous":
            return Caller(server=False, user=ANONYMOUS)
        if not token:
            raise StreamError(401, AUTH_ERROR, "JWTAuth error: the Authorization header is missing")
        claims = self.claims(token)
        user_id = claims.get("user_id")
        if user_id is None:
            return Caller(server=True)
        if not isinstance(user_id, str) or not user_id:
            raise StreamError(401, AUTH_ERROR, "JWTAuth error: user_id in the token must be a string")
        if claimed_user_id and claimed_user_id != user_id:
            raise StreamError(401, AUTH_ERROR, "JWTAuth error: the user_id parameter does not match the token")
        known = await self._known(user_id)
        if known is None:
            raise StreamError(401, AUTH_ERROR, f'JWTAuth error: user "{user_id}" does not exist; create it first')
        user, revoked_before = known
        if tokens.is_revoked(claims, revoked_before):
            raise StreamError(401, TOKEN_EXPIRED, "JWTAuth error: the token was revoked (issued before "
                                                  f"{iso(revoked_before)}); get a new one")
        if user.deactivated_at is not None or user.deleted_at is not None:
            raise StreamError(401, AUTH_ERROR, f'user "{user_id}" is deactivated or deleted')
        return Caller(server=False, user=user)


async def authenticate(request: Request) -> Caller:
    """Router dependency: authenticate, then apply the endpoint's rate limit."""
    request.state.started = getattr(request.state, "started", None) or time.perf_counter()
    q = request.query_params
    caller = await request.app.state.auth.authenticate(
        q.get("api_key"), request.headers.get("stream-auth-type"),
        request.headers.get("authorization"), q.get("user_id"),
    )
    request.state.caller = caller
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.enabled:
        route = request.scope.get("route")
        endpoint = getattr(route, "name", "unknown")
        verdict = await limiter.hit(endpoint, caller.rate_subject, caller.server)
        request.state.rate = verdict
        if not verdict.allowed:
            raise StreamError(429, RATE_LIMITED, f"Too many requests, check response headers for more information. "
                                                 f"The limit for {endpoint} is {verdict.limit} requests a minute")
    return caller


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    limit = container_of(request).settings.chat.max_request_bytes
    if len(raw) > limit:
        raise StreamError(413, INPUT_ERROR, f"request body is larger than {limit} bytes")
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StreamError(400, INPUT_ERROR, f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise StreamError(400, INPUT_ERROR, "request body must be a JSON object")
    return data


def payload_param(request: Request) -> dict[str, Any]:
    """GET endpoints that take a JSON ``payload`` query parameter."""
    raw = request.query_params.get("payload")
    if raw is None:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StreamError(400, INPUT_ERROR, f"payload is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise StreamError(400, INPUT_ERROR, "payload must be a JSON object")
    return data


# --- small typed readers for free-form Stream bodies --------------------------------------------

def get_str(data: dict[str, Any], key: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = data.get(key, default)
    if value is None:
        if required:
            raise Invalid("missing_field", f"{key} is a required field")
        return None
    if not isinstance(value, str):
        raise Invalid("invalid_field", f"{key} must be a string")
    return value


def get_bool(data: dict[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Invalid("invalid_field", f"{key} must be a boolean")
    return value


def get_int(data: dict[str, Any], key: str, default: int, *, lo: int = 0, hi: int = 10_000) -> int:
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid("invalid_field", f"{key} must be an integer")
    if not lo <= value <= hi:
        raise Invalid("invalid_field", f"{key} must be between {lo} and {hi}")
    return value


def get_dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("invalid_field", f"{key} must be an object")
    return value


def get_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid("invalid_field", f"{key} must be a list")
    return value


def user_ref(data: dict[str, Any]) -> str | None:
    """The acting user a server-side call names: ``user_id`` or ``user.id``."""
    user = data.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return user["id"]
    value = data.get("user_id")
    if value is not None and not isinstance(value, str):
        raise Invalid("invalid_field", "user_id must be a string")
    return value


async def acting_user(request: Request, caller: Caller, data: dict[str, Any],
                      *, required: bool = False) -> User | None:
    """Client-side: the caller. Server-side: the user named in the body, if any."""
    if not caller.server:
        return caller.user
    ref = user_ref(data)
    if ref is None:
        if required:
            raise Invalid("missing_user", "user or user_id is required for server-side requests")
        return None
    user = await request.app.state.auth.user(ref)
    if user is None:
        raise NotFound("user_not_found", f'user "{ref}" does not exist')
    return user


def caller_of(request: Request) -> Caller:
    """Who signed the request (set by ``authenticate``)."""
    return request.state.caller  # type: ignore[no-any-return]


def require_server(request: Request, what: str) -> None:
    if not caller_of(request).server:
        raise Forbidden("server_side_only", f"{what} is only allowed with a server-side token")


async def actor_of(request: Request, data: dict[str, Any], *, required: bool = False) -> tuple[Actor, User | None]:
    """The actor for the core and the acting user: the caller, or for a server-side call the user
    the body names (``required``: one must be named)."""
    caller = caller_of(request)
    user = await acting_user(request, caller, data, required=required)
    return (caller.actor if not caller.server else Actor(user=user, server=True)), user
