"""habitate's error JSON: {"id", "status", "time", "message"}, and the status of each domain error."""

from __future__ import annotations

import secrets

import orjson
from fastapi.responses import Response

from townhall.core.clock import iso, now
from townhall.core.errors import DomainError

STATUS_NAMES = {
    400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 409: "CONFLICT",
    418: "I_AM_A_TEAPOT", 429: "TOO_MANY_REQUESTS", 500: "SERVER_ERROR", 503: "SERVICE_UNAVAILABLE",
}
_BY_KIND = {
    "invalid": 400, "not_found": 404, "forbidden": 403, "unauthenticated": 403, "conflict": 409,
    "rate_limited": 429, "too_large": 400,
}
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


class ForumError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status if status in STATUS_NAMES else (500 if status >= 500 else 400)
        self.message = message


def from_domain(exc: DomainError) -> ForumError:
    return ForumError(_BY_KIND.get(exc.kind, 400), exc.message)


def error_response(err: ForumError) -> Response:
    body = {
        "id": "".join(secrets.choice(_ID_ALPHABET) for _ in range(20)),
        "status": STATUS_NAMES[err.status],
        "time": iso(now()),
        "message": err.message,
    }
    return Response(orjson.dumps(body), status_code=err.status, media_type="application/json")
