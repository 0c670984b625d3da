"""Community voice chats: credentials, status, moderation, end. Routes parse, call
townhall.core.rooms (``actions`` when the media server is involved, ``voice`` for reads) and render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from townhall.api.voice import schemas
from townhall.api.voice.errors import error
from townhall.api.voice.http import Service, checked_body, container_of, loose_body, ok, openapi_body
from townhall.core.rooms import actions, voice
from townhall.core.rooms.models import COMMUNITY

router = APIRouter(tags=["community voice chat"])

CommunityId = Annotated[str, Path(description="the community's id")]
UserAddress = Annotated[str, Path(description="the user's Ethereum address")]


def _community_id(value: str) -> str:
    if not value.strip():
        raise error(400, "The parameter communityId is required")
    return value


@router.post("/community-voice-chat", summary="Create or join a community voice chat",
             openapi_extra=openapi_body(schemas.COMMUNITY_VOICE_CHAT))
async def community_voice_chat(request: Request, _: Service) -> Response:
    body = await checked_body(request, schemas.COMMUNITY_VOICE_CHAT)
    c = container_of(request)
    entered = await actions.enter_community(
        c.uow, c.media, body["community_id"], body["user_address"], creating=body["action"] == "create",
        caller_role=body.get("user_role"), profile=body.get("profile_data"),
        trust_caller=c.settings.voice.trust_caller_roles)
    return ok({"connection_url": entered.credentials.connection_url})


@router.get("/community-voice-chat/active", summary="Every active community voice chat")
async def active_chats(request: Request, _: Service,
                       limit: Annotated[int | None, Query(ge=1, le=1000, description="at most this many (townhall; "
                                                          "default: all)")] = None,
                       offset: Annotated[int, Query(ge=0, description="skip this many (townhall)")] = 0) -> Response:
    async with container_of(request).read() as conn:
        found, total = await voice.active_community_chats(conn, limit=limit, offset=offset)
    return ok({"data": [{"communityId": s.community_id, "participantCount": s.participant_count,
                         "moderatorCount": s.moderator_count} for s in found], "total": total})


@router.post("/community-voice-chat/status", summary="The status of several community voice chats",
             openapi_extra=openapi_body(schemas.BULK_STATUS))
async def bulk_status(request: Request, _: Service) -> Response:
    body = await checked_body(request, schemas.BULK_STATUS)
    ids = body["community_ids"]
    if any(not i.strip() for i in ids):
        raise error(400, "All community_ids must be non-empty strings")
    async with container_of(request).read() as conn:
        found = await voice.community_statuses(conn, ids)
    return ok({"data": [{"community_id": s.community_id, "active": s.active,
                         "participant_count": s.participant_count, "moderator_count": s.moderator_count}
                        for s in found]})


@router.get("/community-voice-chat/{communityId}/status", summary="The status of a community voice chat")
async def status(request: Request, _: Service, communityId: CommunityId) -> Response:  # noqa: N803
    async with container_of(request).read() as conn:
        (found,) = await voice.community_statuses(conn, [_community_id(communityId)])
    return ok({"active": found.active, "participant_count": found.participant_count,
               "moderator_count": found.moderator_count})


@router.get("/users/{userAddress}/community-voice-chat-status", summary="Whether a user is in a community voice chat")
async def user_status(request: Request, _: Service, userAddress: UserAddress) -> Response:  # noqa: N803
    async with container_of(request).read() as conn:
        present = await voice.is_in_voice_chat(conn, userAddress, COMMUNITY)
    return ok({"userAddress": userAddress.lower(), "isInCommunityVoiceChat": present})


@router.post("/community-voice-chat/{communityId}/users/{userAddress}/speak-request", summary="Request to speak")
async def request_to_speak(request: Request, _: Service, communityId: CommunityId,  # noqa: N803
                           userAddress: UserAddress) -> Response:  # noqa: N803
    await actions.request_to_speak(container_of(request).uow, _community_id(communityId), userAddress, True)
    return ok({"message": "Request to speak sent successfully"})


@router.delete("/community-voice-chat/{communityId}/users/{userAddress}/speak-request",
               summary="Reject a speak request")
async def reject_speak_request(request: Request, _: Service, communityId: CommunityId,  # noqa: N803
                               userAddress: UserAddress) -> Response:  # noqa: N803
    await actions.request_to_speak(container_of(request).uow, _community_id(communityId), userAddress, False)
    return ok({"message": "Speak request rejected successfully"})


@router.post("/community-voice-chat/{communityId}/users/{userAddress}/speaker", summary="Promote to speaker")
async def promote(request: Request, _: Service, communityId: CommunityId,  # noqa: N803
                  userAddress: UserAddress) -> Response:  # noqa: N803
    c = container_of(request)
    await actions.set_speaker(c.uow, c.media, _community_id(communityId), userAddress, True)
    return ok({"message": "User promoted to speaker successfully"})


@router.delete("/community-voice-chat/{communityId}/users/{userAddress}/speaker", summary="Demote to listener")
async def demote(request: Request, _: Service, communityId: CommunityId,  # noqa: N803
                 userAddress: UserAddress) -> Response:  # noqa: N803
    c = container_of(request)
    await actions.set_speaker(c.uow, c.media, _community_id(communityId), userAddress, False)
    return ok({"message": "User demoted to listener successfully"})


@router.patch("/community-voice-chat/{communityId}/users/{userAddress}/mute", summary="Mute or unmute a user",
              openapi_extra=openapi_body(schemas.MUTE))
async def mute(request: Request, _: Service, communityId: CommunityId,  # noqa: N803
               userAddress: UserAddress) -> Response:  # noqa: N803
    community_id = _community_id(communityId)
    muted = (await checked_body(request, schemas.MUTE))["muted"]
    c = container_of(request)
    await actions.set_voice_muted(c.uow, c.media, community_id, userAddress, muted)
    return ok({"message": f"User {'muted' if muted else 'unmuted'} successfully"})


@router.delete("/community-voice-chat/{communityId}/users/{userAddress}", summary="Kick a user")
async def kick(request: Request, _: Service, communityId: CommunityId,  # noqa: N803
               userAddress: UserAddress) -> Response:  # noqa: N803
    c = container_of(request)
    await actions.kick(c.uow, c.media, _community_id(communityId), userAddress)
    return ok({"message": "User kicked from voice chat successfully"})


@router.delete("/community-voice-chat/{communityId}", summary="End a community voice chat",
               openapi_extra=openapi_body(schemas.END))
async def end(request: Request, _: Service, communityId: CommunityId) -> Response:  # noqa: N803
    community_id = _community_id(communityId)
    body = await loose_body(request, "Invalid request body")
    if not body.get("user_address"):
        raise error(400, "The property user_address is required")
    c = container_of(request)
    await actions.end_community(c.uow, c.media, community_id, body["user_address"],
                                trust_caller=c.settings.voice.trust_caller_roles)
    return ok({"message": "Community voice chat ended successfully"})
