"""The voice surface's error JSON, as the reference service writes it: ``{"error": "<message>"}``
(400 bad input, 401 auth and permission, 404 missing, 503 media server down, 500 otherwise);
request bodies that break their schema answer ``{"ok": false, "message": "Invalid JSON body",
"data": [<Ajv error>]}`` and bodies that are not JSON ``{"ok": false, "message": "<parse error>"}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from townhall.core.errors import DomainError

_BY_KIND = {"invalid": 400, "conflict": 400, "not_found": 404, "forbidden": 401, "unauthenticated": 401,
            "too_large": 413, "unavailable": 503, "rate_limited": 429}


class VoiceError(Exception):
    """An answer other than 200, with its JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers


def error(status: int, message: str) -> VoiceError:
    return VoiceError(status, {"error": message})


def from_domain(exc: DomainError) -> VoiceError:
    return error(_BY_KIND.get(exc.kind, 400), exc.message)


def error_response(err: VoiceError) -> Response:
    return Response(orjson.dumps(err.body), status_code=err.status, media_type="application/json",
                    headers=err.headers)
