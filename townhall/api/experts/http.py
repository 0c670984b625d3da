"""Request plumbing of the experts surface: who is calling (an ``oauth_token`` query or form
parameter, or ``Authorization: Bearer``), and JSON responses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from townhall.api.experts.errors import ExpertsError
from townhall.container import Container
from townhall.core.experts import tokens


def container_of(request: Request) -> Container:
    return request.app.state.container


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.query_params.get("oauth_token") or None


async def current_member(request: Request) -> int:
    """The signed-in member's user id (a FastAPI dependency); 401 without a valid token."""
    token = _presented_token(request)
    if token is None:
        raise ExpertsError(401, "invalid_token", "An oauth_token is required.")
    async with container_of(request).read() as conn:
        info = await tokens.resolve(conn, token)
    if info is None:
        raise ExpertsError(401, "invalid_token", "The oauth_token is invalid, expired or revoked.")
    return info.user_id
