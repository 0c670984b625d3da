"""Social surface routes: live rooms (Clubhouse ``channel``s). Routes parse, call
townhall.core.rooms (``actions`` when the media server is involved, ``service`` otherwise) and
render; the rules are in the core (permissions.py decides who may do what)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social.http import (
    SocialCaller,
    admitted,
    bool_param,
    container_of,
    endpoint,
    int_param,
    offset_of,
    ok,
    page_args,
    paged,
    params,
    signed_in,
    str_param,
    user_id_param,
)
from townhall.api.social.render import user_item
from townhall.api.social.render_clubs import club_full, time_text
from townhall.core.accounts import profiles
from townhall.core.clock import now
from townhall.core.communities.service import clubs_for_user, get_clubs, relations
from townhall.core.errors import Invalid
from townhall.core.rooms import actions
from townhall.core.rooms import service as rooms
from townhall.core.rooms.actions import Entered
from townhall.core.rooms.models import NEW_USER_FOR, OPEN, SOCIAL, Participant, Room
from townhall.db.database import Connection

router = APIRouter(tags=["rooms"])

HEARTBEAT_VALUE = 60
HEARTBEAT_INTERVAL = 29
SPEAKERS_IN_LISTS = 10


def _code(data: dict[str, Any]) -> str:
    return rooms.check_code(str_param(data, "channel", required=True, max_length=64))


def _uid(data: dict[str, Any]) -> int:
    value = user_id_param(data)
    assert value is not None
    return value


def _media(request: Request) -> Any:
    return container_of(request).media


def _uow(request: Request) -> Any:
    return container_of(request).uow


# -- rendering


def _users(parts: list[Participant], found: dict[int, Any], followed: set[int]) -> list[dict[str, Any]]:
    stamp = now()
    out = []
    for x in parts:
        prof = found.get(x.user_id)
        if prof is None:
            continue
        out.append({
            "user_id": x.user_id, "name": prof.name, "username": prof.username, "photo_url": prof.photo_url,
            "first_name": prof.first_name, "skintone": prof.skintone or 1,
            "is_speaker": x.is_speaker, "is_moderator": x.is_moderator,
            "is_invited_as_speaker": x.invited_to_speak, "is_followed_by_speaker": x.user_id in followed,
            "is_new": stamp - prof.created_at < NEW_USER_FOR,
            "time_joined_as_speaker": time_text(x.speaker_since) if x.speaker_since else None,
        })
    return out


async def _room(conn: Connection, room: Room, viewer_id: int) -> dict[str, Any]:
    """A room as join_channel/get_channel answer it."""
    return (await _rooms(conn, [room], viewer_id, full=True))[0]


async def _rooms(conn: Connection, found: list[Room], viewer_id: int, *, full: bool) -> list[dict[str, Any]]:
    """Rooms as join_channel/get_channel answer them (``full``) or as lists show them (speakers
    only); the same few queries however many rooms."""
    parts_of = await rooms.participants_of(conn, [r.id for r in found])
    shown_of = {r.id: parts_of[r.id] if full else [x for x in parts_of[r.id] if x.is_speaker][:SPEAKERS_IN_LISTS]
                for r in found}
    shown_ids = [x.user_id for shown in shown_of.values() for x in shown]
    people = await profiles.get_profiles(conn, shown_ids)
    followed = await rooms.followed_by_speakers_of(conn, [r.id for r in found], shown_ids)
    club_ids = [r.club_id for r in found if r.club_id is not None]
    clubs = await get_clubs(conn, club_ids)
    rels = await relations(conn, club_ids, viewer_id) if club_ids else {}
    out = []
    for room in found:
        parts, shown = parts_of[room.id], shown_of[room.id]
        club = clubs.get(room.club_id) if room.club_id is not None else None
        rel = rels.get(room.club_id) if room.club_id is not None else None
        out.append({
            "channel": room.code, "channel_id": room.id, "topic": room.topic,
            "is_private": room.is_private, "is_social_mode": room.is_social_mode,
            "club": club_full(club) if club else None, "club_id": club.id if club else None,
            "club_name": club.name if club else None,
            "is_club_admin": bool(rel and rel.is_admin), "is_club_member": bool(rel and rel.is_member),
            "creator_user_profile_id": room.creator_id, "event_id": room.event_id,
            "is_handraise_enabled": room.is_handraise_enabled, "handraise_permission": room.handraise_permission,
            "is_empty": not parts, "num_all": len(parts), "num_speakers": sum(x.is_speaker for x in parts),
            "num_other": len(parts) - len(shown), "has_blocked_speakers": False, "is_explore_channel": False,
            "url": None,
            "welcome_for_user_profile": None,
            "users": _users(shown, people, followed[room.id]),
        })
    return out


def _origin(request: Request) -> str:
    """Where the PubNub gateway is (``api.social.pubnub``): the public URL without its scheme."""
    public = urlsplit(container_of(request).settings.base_url())
    return public.netloc + public.path


async def _entered(request: Request, entered: Entered, viewer_id: int) -> Response:
    """join_channel / create_channel / accept_speaker_invite: the room plus its credentials."""
    async with container_of(request).read() as conn:
        body = await _room(conn, entered.room, viewer_id)
    body["url"] = f"{container_of(request).settings.base_url()}/room/{entered.room.code}"
    return ok(**body, **_credentials(request, entered))


def _credentials(request: Request, entered: Entered) -> dict[str, Any]:
    return {
        "token": entered.credentials.connection_url, "rtm_token": entered.participant.pubnub_token,
        "agora_native_mute": False,
        "pubnub_token": entered.participant.pubnub_token, "pubnub_origin": _origin(request),
        "pubnub_heartbeat_value": HEARTBEAT_VALUE, "pubnub_heartbeat_interval": HEARTBEAT_INTERVAL,
        "pubnub_enable": True,
    }


async def _rooms_list(request: Request, found: list[Room], viewer_id: int) -> list[dict[str, Any]]:
    base = container_of(request).settings.base_url()
    async with container_of(request).read() as conn:
        out = await _rooms(conn, found, viewer_id, full=False)
    for room, item in zip(found, out, strict=True):
        item["url"] = f"{base}/room/{room.code}"
    return out


# -- endpoints


@endpoint(router, "create_channel", example={"club_id": None, "event_id": None, "is_private": False,
                                             "is_social_mode": False, "topic": None, "user_ids": []})
async def create_channel(request: Request, data: dict[str, Any] = Depends(params),
                         caller: SocialCaller = Depends(admitted)) -> Response:
    """``{topic?, is_private?, is_social_mode?, club_id?, event_id?, user_ids?}`` → the new room as
    join_channel answers it; the caller is its moderator."""
    club_id = int_param(data, "club_id", required=False)
    event_id = int_param(data, "event_id", required=False)
    for name, value in (("club_id", club_id), ("event_id", event_id)):
        if value is not None and value <= 0:
            raise Invalid("invalid_field", f"{name} must be a positive integer.")
    entered = await actions.create(
        _uow(request), _media(request), caller.user_id, topic=data.get("topic"),
        is_private=bool_param(data, "is_private"), is_social_mode=bool_param(data, "is_social_mode"),
        club_id=club_id, event_id=event_id, user_ids=data.get("user_ids"))
    return await _entered(request, entered, caller.user_id)


@endpoint(router, "join_channel", example={"channel": "abcdefgh", "attribution_source": "feed"})
async def join_channel(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(admitted)) -> Response:
    entered = await actions.join(_uow(request), _media(request), caller.user_id, _code(data))
    return await _entered(request, entered, caller.user_id)


@endpoint(router, "leave_channel", example={"channel": "abcdefgh"})
async def leave_channel(request: Request, data: dict[str, Any] = Depends(params),
                        caller: SocialCaller = Depends(signed_in)) -> Response:
    await actions.leave(_uow(request), _media(request), caller.user_id, _code(data))
    return ok()


@endpoint(router, "get_channel", example={"channel": "abcdefgh", "channel_id": None})
async def get_channel(request: Request, data: dict[str, Any] = Depends(params),
                      caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).read() as conn:
        room, _ = await rooms.access_room(conn, caller.user_id, _code(data))
        body = await _room(conn, room, caller.user_id)
    body["url"] = f"{container_of(request).settings.base_url()}/room/{room.code}"
    return ok(**body)


@endpoint(router, "get_channels")
async def get_channels(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(signed_in)) -> Response:
    """Live rooms the caller may see, newest first (paged: ``page``, ``page_size``)."""
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await rooms.visible_rooms(conn, caller.user_id, limit=size, offset=offset_of(page, size))
    items = await _rooms_list(request, found, caller.user_id)
    return ok(channels=items, events=[], **paged(items, count, page, size))


@endpoint(router, "get_feed")
async def get_feed(request: Request, data: dict[str, Any] = Depends(params),
                   caller: SocialCaller = Depends(signed_in)) -> Response:
    """The hallway: rooms with people the caller follows first (``items: [{channel}]``)."""
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await rooms.visible_rooms(conn, caller.user_id, limit=size, offset=offset_of(page, size),
                                                 followed_first=True)
    items = [{"channel": c} for c in await _rooms_list(request, found, caller.user_id)]
    return ok(items=items, **paged(items, count, page, size))


@endpoint(router, "active_ping", example={"channel": "abcdefgh", "chanel_id": None})
async def active_ping(request: Request, data: dict[str, Any] = Depends(params),
                      caller: SocialCaller = Depends(signed_in)) -> Response:
    """Every 30 s while in a room; ``should_leave`` once the room ended or the caller is out."""
    async with container_of(request).uow() as uow:
        should_leave = await rooms.do_ping(uow, caller.user_id, _code(data))
    return ok(should_leave=should_leave)


@endpoint(router, "hide_channel", example={"channel": "abcdefgh", "hide": True})
async def hide_channel(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).uow() as uow:
        await rooms.do_hide(uow, caller.user_id, _code(data), bool_param(data, "hide", True))
    return ok()


async def _set_kind(request: Request, data: dict[str, Any], caller: SocialCaller, kind: str) -> Response:
    async with container_of(request).uow() as uow:
        room = await rooms.do_set_kind(uow, caller.user_id, _code(data), kind)
    async with container_of(request).read() as conn:
        body = await _room(conn, room, caller.user_id)
    return ok(**body)


@endpoint(router, "make_channel_public", example={"channel": "abcdefgh", "channel_id": None})
async def make_channel_public(request: Request, data: dict[str, Any] = Depends(params),
                              caller: SocialCaller = Depends(admitted)) -> Response:
    return await _set_kind(request, data, caller, OPEN)


@endpoint(router, "make_channel_social", example={"channel": "abcdefgh", "channel_id": None})
async def make_channel_social(request: Request, data: dict[str, Any] = Depends(params),
                              caller: SocialCaller = Depends(admitted)) -> Response:
    return await _set_kind(request, data, caller, SOCIAL)


@endpoint(router, "end_channel", example={"channel": "abcdefgh", "channel_id": None})
async def end_channel(request: Request, data: dict[str, Any] = Depends(params),
                      caller: SocialCaller = Depends(admitted)) -> Response:
    await actions.end(_uow(request), _media(request), caller.user_id, _code(data))
    return ok()


@endpoint(router, "get_create_channel_targets", example={})
async def get_create_channel_targets(request: Request, caller: SocialCaller = Depends(admitted)) -> Response:
    """Where the caller may start a room: open, social, private, and the clubs they are in."""
    async with container_of(request).read() as conn:
        mine = await clubs_for_user(conn, caller.user_id)
    return ok(clubs=[{"club_id": c.id, "name": c.name, "photo_url": c.photo_url} for c in mine],
              targets=["open", "social", "private"])


@endpoint(router, "get_suggested_speakers", example={"channel": "abcdefgh"})
async def get_suggested_speakers(request: Request, data: dict[str, Any] = Depends(params),
                                 caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).read() as conn:
        room, _ = await rooms.access_room(conn, caller.user_id, _code(data))
        ids = await rooms.suggested_speakers(conn, room)
        found = await profiles.get_profiles(conn, ids)
    return ok(users=[user_item(found[i]) for i in ids if i in found])


@endpoint(router, "audience_reply", example={"channel": "abcdefgh", "raise_hands": True, "unraise_hands": False})
async def audience_reply(request: Request, data: dict[str, Any] = Depends(params),
                         caller: SocialCaller = Depends(admitted)) -> Response:
    """Raise (``raise_hands``) or lower (``unraise_hands``) one's hand."""
    raise_ = bool_param(data, "raise_hands")
    lower = bool_param(data, "unraise_hands")
    if raise_ == lower:
        raise Invalid("invalid_field", "Set exactly one of raise_hands and unraise_hands.")
    async with container_of(request).uow() as uow:
        if raise_:
            await rooms.do_raise_hand(uow, caller.user_id, _code(data))
        else:
            await rooms.do_lower_hand(uow, caller.user_id, _code(data))
    return ok()


@endpoint(router, "change_handraise_settings",
          example={"channel": "abcdefgh", "is_enabled": True, "handraise_permission": 1})
async def change_handraise_settings(request: Request, data: dict[str, Any] = Depends(params),
                                    caller: SocialCaller = Depends(admitted)) -> Response:
    async with container_of(request).uow() as uow:
        room = await rooms.do_change_handraise_settings(
            uow, caller.user_id, _code(data), is_enabled=bool_param(data, "is_enabled", True),
            permission=int_param(data, "handraise_permission", required=False, default=1))
    return ok(is_handraise_enabled=room.is_handraise_enabled, handraise_permission=room.handraise_permission)


@endpoint(router, "invite_speaker", example={"channel": "abcdefgh", "user_id": 1234})
async def invite_speaker(request: Request, data: dict[str, Any] = Depends(params),
                         caller: SocialCaller = Depends(admitted)) -> Response:
    async with container_of(request).uow() as uow:
        await rooms.do_invite_speaker(uow, caller.user_id, _code(data), _uid(data))
    return ok()


@endpoint(router, "uninvite_speaker", example={"channel": "abcdefgh", "user_id": 1234})
async def uninvite_speaker(request: Request, data: dict[str, Any] = Depends(params),
                           caller: SocialCaller = Depends(admitted)) -> Response:
    await actions.uninvite_speaker(_uow(request), _media(request), caller.user_id, _code(data), _uid(data))
    return ok()


@endpoint(router, "accept_speaker_invite", example={"channel": "abcdefgh", "user_id": 1234})
async def accept_speaker_invite(request: Request, data: dict[str, Any] = Depends(params),
                                caller: SocialCaller = Depends(admitted)) -> Response:
    """``user_id`` (clubhouse-py sends the inviter's or one's own) is accepted and not needed."""
    user_id_param(data, required=False)
    entered = await actions.accept_speaker_invite(_uow(request), _media(request), caller.user_id, _code(data))
    return ok(**_credentials(request, entered))


@endpoint(router, "reject_speaker_invite", example={"channel": "abcdefgh", "user_id": 1234})
async def reject_speaker_invite(request: Request, data: dict[str, Any] = Depends(params),
                                caller: SocialCaller = Depends(admitted)) -> Response:
    user_id_param(data, required=False)
    async with container_of(request).uow() as uow:
        await rooms.do_reject_speaker_invite(uow, caller.user_id, _code(data))
    return ok()


@endpoint(router, "make_moderator", example={"channel": "abcdefgh", "user_id": 1234})
async def make_moderator(request: Request, data: dict[str, Any] = Depends(params),
                         caller: SocialCaller = Depends(admitted)) -> Response:
    await actions.make_moderator(_uow(request), _media(request), caller.user_id, _code(data), _uid(data))
    return ok()


@endpoint(router, "mute_speaker", example={"channel": "abcdefgh", "user_id": 1234})
async def mute_speaker(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(admitted)) -> Response:
    await actions.set_muted(_uow(request), _media(request), caller.user_id, _code(data), _uid(data), True)
    return ok()


@endpoint(router, "block_from_channel", example={"channel": "abcdefgh", "user_id": 1234})
async def block_from_channel(request: Request, data: dict[str, Any] = Depends(params),
                             caller: SocialCaller = Depends(admitted)) -> Response:
    await actions.remove(_uow(request), _media(request), caller.user_id, _code(data), _uid(data), block=True)
    return ok()


@endpoint(router, "invite_to_existing_channel", example={"channel": "abcdefgh", "user_id": 1234})
async def invite_to_existing_channel(request: Request, data: dict[str, Any] = Depends(params),
                                     caller: SocialCaller = Depends(admitted)) -> Response:
    async with container_of(request).uow() as uow:
        invite_id = await rooms.do_invite_to_room(uow, caller.user_id, _code(data), _uid(data))
    return ok(channel_invite_id=invite_id)


@endpoint(router, "invite_to_new_channel", example={"channel": "abcdefgh", "user_id": 1234})
async def invite_to_new_channel(request: Request, data: dict[str, Any] = Depends(params),
                                caller: SocialCaller = Depends(admitted)) -> Response:
    async with container_of(request).uow() as uow:
        invite_id = await rooms.do_invite_to_room(uow, caller.user_id, _code(data), _uid(data), new=True)
    return ok(channel_invite_id=invite_id)


def _invite_id(data: dict[str, Any]) -> int:
    value = int_param(data, "channel_invite_id")
    if value is None or value <= 0:
        raise Invalid("invalid_field", "channel_invite_id must be a positive integer.")
    return value


@endpoint(router, "accept_new_channel_invite", example={"channel_invite_id": 1})
async def accept_new_channel_invite(request: Request, data: dict[str, Any] = Depends(params),
                                    caller: SocialCaller = Depends(admitted)) -> Response:
    """Accept an invitation: the answer names the room to join_channel."""
    async with container_of(request).uow() as uow:
        room = await rooms.do_answer_invite(uow, caller.user_id, _invite_id(data), accept=True)
    return ok(channel=room.code, channel_id=room.id)


@endpoint(router, "reject_new_channel_invite", example={"channel_invite_id": 1})
async def reject_new_channel_invite(request: Request, data: dict[str, Any] = Depends(params),
                                    caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).uow() as uow:
        await rooms.do_answer_invite(uow, caller.user_id, _invite_id(data), accept=False)
    return ok()


@endpoint(router, "cancel_new_channel_invite", example={"channel_invite_id": 1})
async def cancel_new_channel_invite(request: Request, data: dict[str, Any] = Depends(params),
                                    caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).uow() as uow:
        await rooms.do_cancel_invite(uow, caller.user_id, _invite_id(data))
    return ok()
