"""Social surface routes: scheduled events. Routes parse, call townhall.core.rooms.scheduled and
render; the rules are there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social import render_clubs as render
from townhall.api.social.http import (
    SocialCaller,
    admitted,
    bool_param,
    container_of,
    endpoint,
    int_param,
    list_param,
    offset_of,
    ok,
    page_args,
    paged,
    params,
    signed_in,
    str_param,
)
from townhall.core.accounts import profiles
from townhall.core.communities import service as clubs
from townhall.core.errors import Invalid
from townhall.core.rooms import scheduled
from townhall.core.rooms.scheduled import ScheduledEvent
from townhall.db.database import Connection

router = APIRouter(tags=["events"])


async def _render(request: Request, conn: Connection, viewer_id: int,
                  found: list[ScheduledEvent]) -> list[dict[str, Any]]:
    club_ids = {e.club_id for e in found if e.club_id is not None}
    club_map = await clubs.get_clubs(conn, club_ids)
    rels = await clubs.relations(conn, club_ids, viewer_id)
    hosts = await profiles.get_profiles(conn, [h for e in found for h in e.host_ids])
    base = container_of(request).settings.base_url()
    return [render.event(e, viewer_id=viewer_id, club=club_map.get(e.club_id) if e.club_id else None,
                         rel=rels.get(e.club_id) if e.club_id else None, hosts=hosts, base_url=base)
            for e in found]


def _start(data: dict[str, Any]) -> Any:
    """``time_start_epoch`` (clubhouse-py) or ``time_start`` (epoch or ISO 8601)."""
    value = data.get("time_start_epoch")
    return data.get("time_start") if value is None else value


def _club_id(data: dict[str, Any]) -> int | None:
    value = int_param(data, "club_id", required=False)
    return None if value is None else clubs.check_id(value)


def _event_key(data: dict[str, Any]) -> dict[str, Any]:
    """``event_id`` or ``event_hashid`` of the request, as keyword arguments of the core."""
    event_id = int_param(data, "event_id", required=False)
    hashid = str_param(data, "event_hashid", max_length=64)
    if event_id is None and not hashid:
        raise Invalid("missing_field", "event_id is required.")
    return {"event_id": None if event_id is None else scheduled.check_event_id(event_id), "hashid": hashid}


async def _event(request: Request, data: dict[str, Any], caller: SocialCaller) -> ScheduledEvent:
    async with container_of(request).read() as conn:
        return await scheduled.access_event(conn, caller.user_id, **_event_key(data))


async def _answer(request: Request, caller: SocialCaller, event_id: int) -> Response:
    async with container_of(request).read() as conn:
        event = await scheduled.access_event(conn, caller.user_id, event_id=event_id)
        return ok(event=(await _render(request, conn, caller.user_id, [event]))[0])


async def _create(request: Request, data: dict[str, Any], caller: SocialCaller) -> Response:
    async with container_of(request).uow() as uow:
        event = await scheduled.do_create_event(
            uow, caller.user_id, name=data.get("name"), description=data.get("description"),
            time_start=_start(data), host_ids=list_param(data, "user_ids"), club_id=_club_id(data),
            is_member_only=bool_param(data, "is_member_only", False))
    return await _answer(request, caller, event.id)


@endpoint(router, "create_event")
async def create_event(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(admitted)) -> Response:
    """``{name, time_start_epoch | time_start, description, user_ids (hosts), club_id,
    is_member_only}`` → ``{event}``; a retried request answers the event already made."""
    return await _create(request, data, caller)


@endpoint(router, "edit_event")
async def edit_event(request: Request, data: dict[str, Any] = Depends(params),
                     caller: SocialCaller = Depends(admitted)) -> Response:
    """Change the fields given (null: unchanged). Without ``event_id``/``event_hashid`` it
    schedules a new event (clubhouse-py's create_event posts here)."""
    if int_param(data, "event_id", required=False) is None and not data.get("event_hashid"):
        return await _create(request, data, caller)
    key = _event_key(data)
    changes: dict[str, Any] = {}
    for name in ("name", "description"):
        if data.get(name) is not None:
            changes[name] = data[name]
    if _start(data) is not None:
        changes["time_start"] = _start(data)
    if data.get("user_ids") is not None:
        changes["host_ids"] = list_param(data, "user_ids")
    if data.get("club_id") is not None:
        changes["club_id"] = _club_id(data)
    if data.get("is_member_only") is not None:
        changes["is_member_only"] = bool_param(data, "is_member_only")
    async with container_of(request).uow() as uow:
        event = await scheduled.do_edit_event(uow, caller.user_id, changes, **key)
    return await _answer(request, caller, event.id)


@endpoint(router, "delete_event")
async def delete_event(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(signed_in)) -> Response:
    key = _event_key(data)
    async with container_of(request).uow() as uow:
        await scheduled.do_delete_event(uow, caller.user_id, **key)
    return ok()


@endpoint(router, "get_event")
async def get_event(request: Request, data: dict[str, Any] = Depends(params),
                    caller: SocialCaller = Depends(signed_in)) -> Response:
    event = await _event(request, data, caller)
    async with container_of(request).read() as conn:
        return ok(event=(await _render(request, conn, caller.user_id, [event]))[0])


@endpoint(router, "get_events")
async def get_events(request: Request, data: dict[str, Any] = Depends(params),
                     caller: SocialCaller = Depends(signed_in)) -> Response:
    """Upcoming for you (``is_filtered``, the default) or every upcoming event; paginated."""
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await scheduled.upcoming_for_user(
            conn, caller.user_id, filtered=bool_param(data, "is_filtered", True), limit=size,
            offset=offset_of(page, size))
        events = await _render(request, conn, caller.user_id, found)
    return ok(events=events, **paged(found, count, page, size))


@endpoint(router, "get_events_for_user")
async def get_events_for_user(request: Request, data: dict[str, Any] = Depends(params),
                              caller: SocialCaller = Depends(signed_in)) -> Response:
    """Upcoming events ``user_id`` (default: you) hosts; paginated."""
    user_id = int_param(data, "user_id", required=False) or caller.user_id
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await scheduled.events_for_user(conn, caller.user_id, clubs.check_id(user_id, "user_id"),
                                                       limit=size, offset=offset_of(page, size))
        events = await _render(request, conn, caller.user_id, found)
    return ok(events=events, **paged(found, count, page, size))


@endpoint(router, "get_events_for_club")
async def get_events_for_club(request: Request, data: dict[str, Any] = Depends(params),
                              caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id = clubs.check_id(int_param(data, "club_id"))
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await scheduled.events_for_club(conn, caller.user_id, club_id, limit=size,
                                                       offset=offset_of(page, size))
        events = await _render(request, conn, caller.user_id, found)
    return ok(events=events, **paged(found, count, page, size))


@endpoint(router, "get_events_to_start")
async def get_events_to_start(request: Request, caller: SocialCaller = Depends(signed_in)) -> Response:
    """Events you host that start within the hour: you may open their rooms now."""
    async with container_of(request).read() as conn:
        found = await scheduled.events_to_start(conn, caller.user_id)
        events = await _render(request, conn, caller.user_id, found)
    return ok(events=events)
