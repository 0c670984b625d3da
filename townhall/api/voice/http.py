"""Request plumbing of the voice surface: the service token, JSON bodies (read within the size
limit, checked against their schema), JSON answers."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response

from townhall.api.common.body import read_limited
from townhall.api.voice.errors import VoiceError, error
from townhall.api.voice.schemas import Schema, first_error
from townhall.container import Container


def container_of(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def service_caller(request: Request) -> None:
    """``Authorization: Bearer <service token>`` (compared in constant time)."""
    header = request.headers.get("authorization")
    if not header:
        raise error(401, "Authorization header is missing")
    scheme, _, token = header.strip().partition(" ")
    expected = container_of(request).credentials.voice_service_token
    if scheme.lower() != "bearer" or not expected or not hmac.compare_digest(
            token.strip().encode(), expected.encode()):
        raise error(401, "Invalid authorization header")


Service = Annotated[None, Depends(service_caller)]


def openapi_body(schema: Schema) -> dict[str, Any]:
    """A route's JSON request body for its OpenAPI description (the routes read bodies themselves)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def ok(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def raw_body(request: Request) -> bytes:
    """The body, refused (413) beyond the configured size, also when it is streamed."""
    limit = container_of(request).settings.voice.max_request_bytes
    return await read_limited(request, limit, error(413, f"The request body is larger than {limit} bytes"))


def _parse(raw: bytes) -> Any:
    """The JSON document, or ValueError with the parser's message. orjson, because it refuses what
    the database cannot store (lone surrogates such as ``"\\ud800"``, invalid UTF-8) and documents
    nested beyond its depth limit."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"Invalid JSON in request body: {exc.msg}") from exc


async def checked_body(request: Request, schema: Schema) -> dict[str, Any]:
    """A JSON body that matches ``schema`` (Ajv's answers otherwise)."""
    try:
        data = _parse(await raw_body(request))
    except ValueError as exc:
        raise VoiceError(400, {"ok": False, "message": str(exc)}) from exc
    if (problem := first_error(schema, data)) is not None:
        raise VoiceError(400, {"ok": False, "message": "Invalid JSON body", "data": [problem]})
    return data  # type: ignore[no-any-return]


async def loose_body(request: Request, invalid: str) -> dict[str, Any]:
    """A JSON body read the way the reference's handlers read theirs: ``invalid`` as the error when
    it is not JSON; anything but an object has none of the fields asked for."""
    try:
        data = _parse(await raw_body(request))
    except ValueError as exc:
        raise error(400, invalid) from exc
    return data if isinstance(data, dict) else {}
