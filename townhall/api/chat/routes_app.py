"""App settings, rate limits and channel types."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from townhall.api.chat import render
from townhall.api.chat.http import Caller, container_of, get_str, json_body, respond
from townhall.api.chat.ratelimit import RateLimiter
from townhall.core import app_settings
from townhall.core.chat import channel_types as types
from townhall.core.errors import Forbidden

router = APIRouter(tags=["app"])


def _require_server(request: Request, what: str) -> None:
    caller: Caller = request.state.caller
    if not caller.server:
        raise Forbidden("server_side_only", f"{what} is only allowed with a server-side token")


@router.get("/app", name="get_app")
async def get_app(request: Request) -> Response:
    async with container_of(request).read() as conn:
        settings = await app_settings.get(conn)
        configs = {t.name: render.channel_type(t) for t in await types.list_types(conn)}
    return respond(request, {"app": {**settings, "channel_configs": configs}})


@router.patch("/app", name="update_app")
async def update_app(request: Request) -> Response:
    _require_server(request, "changing app settings")
    data = await json_body(request)
    async with container_of(request).uow() as uow:
        await app_settings.change(uow, data)
    return respond(request, {})


@router.get("/rate_limits", name="get_rate_limits")
async def get_rate_limits(request: Request) -> Response:
    limiter: RateLimiter = request.app.state.rate_limiter
    q = request.query_params
    wanted = [e for e in q.get("endpoints", "").split(",") if e]
    endpoints = wanted or sorted({getattr(r, "name", "") for r in request.app.routes if getattr(r, "name", "")})
    platforms = [p for p in ("server_side", "android", "ios", "web") if q.get(p) == "true"] or \
        ["server_side", "android", "ios", "web"]
    return respond(request, {p: limiter.snapshot(p == "server_side", endpoints) for p in platforms})


@router.get("/channeltypes", name="list_channel_types")
async def list_channel_types(request: Request) -> Response:
    async with container_of(request).read() as conn:
        found = await types.list_types(conn)
    return respond(request, {"channel_types": {t.name: render.channel_type(t) for t in found}})


@router.get("/channeltypes/{name}", name="get_channel_type")
async def get_channel_type(request: Request, name: str) -> Response:
    async with container_of(request).read() as conn:
        found = await types.get_type(conn, name)
    return respond(request, render.channel_type(found))


@router.post("/channeltypes", name="create_channel_type")
async def create_channel_type(request: Request) -> Response:
    _require_server(request, "creating channel types")
    data = await json_body(request)
    name = get_str(data, "name", required=True)
    async with container_of(request).uow() as uow:
        created = await types.create_type(uow.conn, name, {k: v for k, v in data.items() if k != "name"})
    return respond(request, render.channel_type(created), 201)


@router.put("/channeltypes/{name}", name="update_channel_type")
async def update_channel_type(request: Request, name: str) -> Response:
    _require_server(request, "changing channel types")
    data = await json_body(request)
    async with container_of(request).uow() as uow:
        updated = await types.update_type(uow.conn, name, data)
    return respond(request, render.channel_type(updated), 201)


@router.delete("/channeltypes/{name}", name="delete_channel_type")
async def delete_channel_type(request: Request, name: str) -> Response:
    _require_server(request, "deleting channel types")
    async with container_of(request).uow() as uow:
        await types.delete_type(uow.conn, name)
    return respond(request, {})
