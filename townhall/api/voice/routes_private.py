"""Private 1:1 voice chats: credentials for both users, end, and whether a user is in one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from townhall.api.voice import schemas
from townhall.api.voice.errors import error
from townhall.api.voice.http import Service, checked_body, container_of, loose_body, ok, openapi_body
from townhall.core.rooms import actions, voice
from townhall.core.rooms.models import VOICE_PRIVATE

router = APIRouter(tags=["private voice chat"])


@router.post("/private-voice-chat", summary="Credentials for a private voice chat between two users",
             openapi_extra=openapi_body(schemas.PRIVATE_VOICE_CHAT))
async def create(request: Request, _: Service) -> Response:
    body = await checked_body(request, schemas.PRIVATE_VOICE_CHAT)
    c = container_of(request)
    found = await actions.create_private(c.uow, c.media, body["room_id"], body["user_addresses"])
    return ok({address: {"connection_url": creds.connection_url} for address, creds in found.items()})


@router.delete("/private-voice-chat/{id}", summary="End a private voice chat",
               openapi_extra=openapi_body(schemas.END_PRIVATE))
async def end(request: Request, _: Service, id: Annotated[str, Path(description="the room id")]) -> Response:  # noqa: A002
    body = await loose_body(request, "Invalid request body")
    address = body.get("address")
    if not address:
        raise error(400, "Invalid request body, missing address")
    if not isinstance(address, str) or not voice.ADDRESS.match(address):
        raise error(400, "Invalid request body, invalid address")
    c = container_of(request)
    return ok({"users_in_voice_chat": await actions.end_private(c.uow, c.media, id, address)})


@router.get("/users/{address}/voice-chat-status", summary="Whether a user is in a private voice chat")
async def user_status(request: Request, _: Service, address: Annotated[str, Path()]) -> Response:
    async with container_of(request).read() as conn:
        present = await voice.is_in_voice_chat(conn, address, VOICE_PRIVATE)
    return ok({"is_user_in_voice_chat": present})
