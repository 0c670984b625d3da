"""App settings, rate limits and channel types."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from townhall.api.chat import render
from townhall.api.chat.http import Caller, container_of, get_str, json_body, require_server, respond
from townhall.api.chat.ratelimit import RateLimiter
from townhall.core import app_settings
from townhall.core.chat import channel_types as types

router = APIRouter(tags=["app"])
PLATFORMS = ("server_side", "android", "ios", "web")


@router.get("/app", name="GetApp")
async def get_app(request: Request) -> Response:
    async with container_of(request).read() as conn:
        settings = await app_settings.get(conn)
        configs = {t.name: render.channel_type(t) for t in await types.list_types(conn)}
    return respond(request, {"app": {**settings, "channel_configs": configs}})


@router.patch("/app", name="UpdateApp")
async def update_app(request: Request) -> Response:
    require_server(request, "changing app settings")
    data = await json_body(request)
    async with container_of(request).uow() as uow:
        await app_settings.change(uow, data)
    return respond(request, {})


@router.get("/rate_limits", name="GetRateLimits")
async def get_rate_limits(request: Request) -> Response:
    limiter: RateLimiter = request.app.state.rate_limiter
    caller: Caller = request.state.caller
    q = request.query_params
    endpoints = [e for e in q.get("endpoints", "").split(",") if e] or request.app.state.endpoints
    platforms = [p for p in PLATFORMS if q.get(p) == "true"] or list(PLATFORMS)
    out = {}
    for platform in platforms:
        server = platform == "server_side"
        subject = caller.rate_subject if server == caller.server else None
        out[platform] = await limiter.snapshot(endpoints, server, subject)
    return respond(request, out)


@router.get("/channeltypes", name="ListChannelTypes")
async def list_channel_types(request: Request) -> Response:
    async with container_of(request).read() as conn:
        found = await types.list_types(conn)
    return respond(request, {"channel_types": {t.name: render.channel_type(t, full=True) for t in found}})


@router.get("/channeltypes/{name}", name="GetChannelType")
async def get_channel_type(request: Request, name: str) -> Response:
    async with container_of(request).read() as conn:
        found = await types.get_type(conn, name)
    return respond(request, render.channel_type(found, full=True))


@router.post("/channeltypes", name="CreateChannelType")
async def create_channel_type(request: Request) -> Response:
    require_server(request, "creating channel types")
    data = await json_body(request)
    name = get_str(data, "name", required=True)
    async with container_of(request).uow() as uow:
        created = await types.create_type(uow.conn, name, {k: v for k, v in data.items() if k != "name"})
    return respond(request, render.channel_type(created, full=True), 201)


@router.put("/channeltypes/{name}", name="UpdateChannelType")
async def update_channel_type(request: Request, name: str) -> Response:
    require_server(request, "changing channel types")
    data = await json_body(request)
    async with container_of(request).uow() as uow:
        updated = await types.update_type(uow.conn, name, data)
    request.app.state.contexts.forget_all()  # a type change records no event
    return respond(request, render.channel_type(updated, full=True), 201)


@router.delete("/channeltypes/{name}", name="DeleteChannelType")
async def delete_channel_type(request: Request, name: str) -> Response:
    require_server(request, "deleting channel types")
    async with container_of(request).uow() as uow:
        await types.delete_type(uow.conn, name)
    request.app.state.contexts.forget_all()
    return respond(request, {})
