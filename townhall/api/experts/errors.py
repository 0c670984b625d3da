"""The experts surface's error JSON, as OAuth 2 (draft 10 and RFC 6749) writes errors:
``{"error": "<code>", "error_description": "<message>"}``; 401 answers also carry a
``WWW-Authenticate`` challenge (``Bearer error="invalid_token"`` for API calls, ``Basic`` for a
client that failed to authenticate at the token endpoint). Errors are never cached.

Domain errors raised with an RFC 6749 error code (``invalid_grant``, ``invalid_client``, ...; see
``core/experts/oauth.py``) keep it as ``error``; the others are named by their kind.
"""

from __future__ import annotations

import orjson
from fastapi.responses import Response

from townhall.core.errors import DomainError

_BY_KIND = {
    "invalid": (400, "invalid_request"), "not_found": (404, "not_found"), "forbidden": (403, "forbidden"),
    "unauthenticated": (401, "invalid_token"), "conflict": (409, "conflict"),
    "rate_limited": (429, "rate_limited"), "too_large": (413, "request_too_large"),
    "unavailable": (503, "temporarily_unavailable"),
}
# RFC 6749 sections 4.1.2.1 and 5.2: codes a client understands, kept as the core names them.
OAUTH_ERRORS = frozenset({
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "access_denied", "unsupported_response_type", "invalid_token",
})
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class ExpertsError(Exception):
    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}  # e.g. Retry-After on a 429


def from_domain(exc: DomainError) -> ExpertsError:
    status, error = _BY_KIND.get(exc.kind, (400, "invalid_request"))
    if exc.code in OAUTH_ERRORS:
        error = exc.code
    return ExpertsError(status, error, exc.message)


def error_response(err: ExpertsError) -> Response:
    headers = {**err.headers, **NO_STORE}
    if err.status == 401 or err.error == "insufficient_scope":  # RFC 6750 section 3
        headers["WWW-Authenticate"] = ('Basic realm="townhall experts"' if err.error == "invalid_client"
                                       else f'Bearer error="{err.error}"')
    return Response(orjson.dumps({"error": err.error, "error_description": err.description}),
                    status_code=err.status, media_type="application/json", headers=headers)
