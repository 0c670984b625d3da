"""The experts surface's error JSON, as OAuth 2 (draft 10 and RFC 6749) writes errors:
``{"error": "<code>", "error_description": "<message>"}``; 401 answers also carry
``WWW-Authenticate: Bearer error="invalid_token"``."""

from __future__ import annotations

import orjson
from fastapi.responses import Response

from townhall.core.errors import DomainError

_BY_KIND = {
    "invalid": (400, "invalid_request"), "not_found": (404, "not_found"), "forbidden": (403, "forbidden"),
    "unauthenticated": (401, "invalid_token"), "conflict": (409, "conflict"),
    "rate_limited": (429, "rate_limited"), "too_large": (413, "request_too_large"),
}


class ExpertsError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def from_domain(exc: DomainError) -> ExpertsError:
    status, error = _BY_KIND.get(exc.kind, (400, "invalid_request"))
    return ExpertsError(status, error, exc.message)


def error_response(err: ExpertsError) -> Response:
    headers = {"WWW-Authenticate": f'Bearer error="{err.error}"'} if err.status == 401 else None
    return Response(orjson.dumps({"error": err.error, "error_description": err.description}),
                    status_code=err.status, media_type="application/json", headers=headers)
