"""Request plumbing of the social surface (Clubhouse app API): who is calling, lenient
parameters, the ``{"success": ...}`` envelope, DRF-style auth errors and pagination.

Every endpoint of the surface is declared with ``endpoint(router, "name")`` (GET and POST both
answer, as real clients use either), takes ``params`` (query string and JSON body merged) and,
when it needs a signed-in user, ``caller: SocialCaller = Depends(signed_in)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from townhall.container import Container
from townhall.core.accounts import sessions
from townhall.core.accounts.profiles import check_admitted_status
from townhall.core.accounts.sessions import SessionInfo
from townhall.core.errors import Invalid
from townhall.core.fields import check_positive_id, is_digits

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

NOT_PROVIDED = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."
NO_PERMISSION = "You do not have permission to perform this action."
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
TOUCH_EVERY = 60.0  # seconds between two last_active updates of one user (presence)


class SocialError(Exception):
    """An app failure: ``{"success": false, "error_message": ...}`` with an HTTP status."""

    def __init__(self, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.fields = fields


class AuthError(Exception):
    """A DRF-style authentication/permission failure: ``{"detail": ...}`` (401/403)."""

    def __init__(self, detail: str, status: int = 401, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class SocialCaller:
    """The signed-in user of a request."""

    user_id: int  # the core user id (also Clubhouse's user_id)
    session_id: int
    waitlisted: bool = False
    is_admin: bool = False

    def require_admitted(self) -> None:
        """Refuse waitlisted accounts: the core's rule (``profiles.check_admitted_status``), on
        the session's flag (no extra query)."""
        check_admitted_status(self.waitlisted)


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type="application/json")


def ok(**fields: Any) -> Response:
    """A success body: ``{"success": true, **fields}``."""
    return json_response({"success": True, **fields})


def container_of(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def endpoint(router: APIRouter, name: str, *, example: dict[str, Any] | None = None,
             **kwargs: Any) -> Callable[[F], F]:
    """Declare ``/<name>`` answering POST and GET alike (clients use both), with the operation
    ids ``<name>`` and ``<name>_get``; ``example`` documents the POST body (the same fields work
    in the query string)."""

    def decorate(fn: F) -> F:
        post_extra = kwargs.pop("openapi_extra", None) or {}
        if example is not None:
            post_extra = {**post_extra, "requestBody": {"content": {"application/json": {
                "schema": {"type": "object"}, "example": example}}}}
        router.add_api_route(f"/{name}", fn, methods=["POST"], name=name, operation_id=name,
                             openapi_extra=post_extra or None, **kwargs)
        router.add_api_route(f"/{name}", fn, methods=["GET"], name=name, operation_id=f"{name}_get", **kwargs)
        return fn

    return decorate


# -- parameters


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) beyond ``limit`` bytes, also when it is streamed."""
    length = request.headers.get("content-length")
    if length and is_digits(length) and int(length) > limit:
        raise SocialError(f"The request body is larger than {limit} bytes.", 413)
    if getattr(request, "_body", None) is not None:  # read already (Starlette caches it there)
        return request._body  # type: ignore[no-any-return]
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise SocialError(f"The request body is larger than {limit} bytes.", 413)
        chunks.append(chunk)
    request._body = b"".join(chunks)
    return request._body


async def params(request: Request) -> dict[str, Any]:
    """Query string and JSON body merged (the body wins). Empty or absent bodies are fine; a
    form-encoded body is read as well; a multipart body is left to the endpoint."""
    data: dict[str, Any] = dict(request.query_params)
    has_body = request.headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in request.headers
    if not has_body:  # GETs carry Content-Type: application/json but no body; some POSTs have none
        return data
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith("multipart/"):
        return data
    raw = await read_body(request, container_of(request).settings.social.max_request_bytes)
    if not raw.strip():
        return data
    if ctype.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        data.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return data
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SocialError("The request body is not valid JSON.") from exc
    if body is None:
        return data
    if not isinstance(body, dict):
        raise SocialError("The request body must be a JSON object.")
    data.update(body)
    return data


def int_param(data: dict[str, Any], name: str, *, required: bool = True, default: int | None = None) -> int | None:
    """An integer from JSON (number) or a query string (digits); None when absent and allowed."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Invalid("missing_field", f"{name} is required.")
        return default
    if isinstance(value, bool):
        raise Invalid("invalid_field", f"{name} must be an integer.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if is_digits(text.lstrip("-")) and len(text) <= 19:
            value = int(text)
    if not isinstance(value, int) or not -(2**63) < value < 2**63:
        raise Invalid("invalid_field", f"{name} must be an integer.")
    return value


def user_id_param(data: dict[str, Any], name: str = "user_id", *, required: bool = True) -> int | None:
    value = int_param(data, name, required=required)
    return None if value is None else check_positive_id(value, name)


def str_param(data: dict[str, Any], name: str, *, required: bool = False, max_length: int = 10_000) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid("missing_field", f"{name} is required.")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("invalid_field", f"{name} must be a string.")
    if len(value) > max_length:
        raise Invalid("invalid_field", f"{name} is longer than {max_length} characters.")
    return value


def bool_param(data: dict[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise Invalid("invalid_field", f"{name} must be a boolean.")


def list_param(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if isinstance(value, str):  # query strings: "1,2,3"
        return [v for v in value.split(",") if v]
    if not isinstance(value, list):
        raise Invalid("invalid_field", f"{name} must be a list.")
    return value


def page_args(data: dict[str, Any]) -> tuple[int, int]:
    """``(page, page_size)``: page from 1 (default 1), page_size default 50, at most 200."""
    page = int_param(data, "page", required=False, default=1) or 1
    size = int_param(data, "page_size", required=False, default=DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    if page < 1:
        raise Invalid("invalid_page", "page must be 1 or more.")
    if page > 100_000:
        raise Invalid("invalid_page", "page is too large.")
    if size < 1:
        raise Invalid("invalid_page_size", "page_size must be 1 or more.")
    return page, min(size, MAX_PAGE_SIZE)


def offset_of(page: int, page_size: int) -> int:
    return (page - 1) * page_size


def paged(items: list[Any], count: int, page: int, page_size: int) -> dict[str, Any]:
    """``count``, ``next`` and ``previous`` (page numbers or null) of a page holding ``items``;
    the caller adds the items under the endpoint's own key (``users``, ``clubs``...)."""
    seen = offset_of(page, page_size) + len(items)
    return {
        "count": count,
        "next": page + 1 if len(items) >= page_size and seen < count else None,
        "previous": page - 1 if page > 1 else None,
    }


# -- who is calling


def _token_of(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise AuthError(NOT_PROVIDED)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() not in ("token", "bearer", "jwt"):
        raise AuthError(NOT_PROVIDED)
    if not token or " " in token:
        raise AuthError("Invalid token header. Token string should not contain spaces." if token else
                        "Invalid token header. No credentials provided.")
    return scheme.lower(), token


async def _session_of(request: Request) -> SessionInfo:
    container = container_of(request)
    scheme, token = _token_of(request)
    if scheme == "token":
        async with container.read() as conn:
            info = await sessions.session_by_auth_token(conn, token)
        if info is None:
            raise AuthError(INVALID_TOKEN)
        return info
    try:
        claims = sessions.decode_jwt(token, container.credentials.social_jwt_secret, kind="access")
    except sessions.TokenInvalid as exc:
        raise AuthError("Given token not valid for any token type", code="token_not_valid") from exc
    async with container.read() as conn:
        info = await sessions.session_by_id(conn, int(claims["sid"]))
    if info is None:
        raise AuthError("Given token not valid for any token type", code="token_not_valid")
    return info


async def signed_in(request: Request) -> SocialCaller:
    """Dependency: the signed-in caller (``Authorization: Token <auth_token>`` or
    ``Bearer <access_token>``); 401 without valid credentials, 403 for a banned account."""
    info = await _session_of(request)
    if info.banned:
        raise AuthError(NO_PERMISSION, 403)
    caller = SocialCaller(user_id=info.user_id, session_id=info.session_id, waitlisted=info.waitlisted,
                          is_admin=info.role == "admin")
    request.state.caller = caller
    await _touch(request, caller.user_id)
    return caller


async def admitted(request: Request) -> SocialCaller:
    """Dependency: a signed-in caller who is not waitlisted (400 with the seed's message)."""
    caller = await signed_in(request)
    caller.require_admitted()
    return caller


async def _touch(request: Request, user_id: int) -> None:
    """Presence: remember when a user was last active (at most once a minute per process)."""
    touched: dict[int, float] = request.app.state.touched
    moment = time.monotonic()
    if moment - touched.get(user_id, -TOUCH_EVERY) < TOUCH_EVERY:
        return
    touched[user_id] = moment
    if len(touched) > 100_000:
        touched.clear()
    from townhall.core.accounts.service import touch_last_active

    try:
        async with container_of(request).uow() as uow:
            await touch_last_active(uow, user_id)
    except Exception:  # presence is best effort; the request goes on
        log.warning("could not record last_active", exc_info=True)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
