"""Stream's error JSON: {code, message, StatusCode, duration, more_info, details}."""

from __future__ import annotations

from townhall.core.errors import DomainError

MORE_INFO = "https://getstream.io/chat/docs/api_errors_response"

# Stream error codes the SDKs read.
INPUT_ERROR = 4
AUTH_KEY_ERROR = 2
AUTH_ERROR = 5
RATE_LIMITED = 9
NOT_FOUND = 16
NOT_ALLOWED = 17
TOKEN_EXPIRED = 40
TOKEN_NOT_VALID_YET = 41
TOKEN_SIGNATURE_INVALID = 43
PAYLOAD_TOO_BIG = 22

_BY_KIND = {
    "invalid": (400, INPUT_ERROR),
    "conflict": (400, INPUT_ERROR),
    "not_found": (404, NOT_FOUND),
    "forbidden": (403, NOT_ALLOWED),
    "unauthenticated": (401, AUTH_ERROR),
    "rate_limited": (429, RATE_LIMITED),
    "too_large": (413, PAYLOAD_TOO_BIG),
}


class StreamError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def from_domain(exc: DomainError) -> StreamError:
    status, code = _BY_KIND.get(exc.kind, (400, INPUT_ERROR))
    code = int(exc.data.get("stream_code", code))
    return StreamError(status, code, exc.message)


def body(err: StreamError, duration: str) -> dict[str, object]:
    return {"code": err.code, "message": err.message, "StatusCode": err.status, "duration": duration,
            "more_info": MORE_INFO, "details": []}
