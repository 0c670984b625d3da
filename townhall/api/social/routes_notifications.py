"""Notifications (the bell) and notification settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social.http import (
    SocialCaller,
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
)
from townhall.api.social.render import user_profile
from townhall.api.social.render_clubs import club_full
from townhall.core.accounts import profiles
from townhall.core.clock import now
from townhall.core.communities import service as communities
from townhall.core.communities.models import Club
from townhall.core.social import notifications

router = APIRouter(tags=["notifications"])


def _render(n: notifications.Notification, found: dict[int, profiles.Profile], clubs: dict[int, Club], *,
            actionable: bool) -> dict[str, Any]:
    actor = found.get(n.actor_id) if n.actor_id is not None else None
    club = clubs.get(n.club_id) if n.club_id is not None else None
    out: dict[str, Any] = {
        "notification_id": n.id, "type": n.kind, "time_created": n.created_at, "is_unread": n.is_unread,
        "message": n.message, "user_profile": user_profile(actor) if actor else None,
        "club_id": n.club_id, "club": club_full(club) if club else None, "event_id": n.event_id, "channel": None,
    }
    if actionable:
        out["actionable_notification_id"] = n.id
    return out


async def _list(request: Request, data: dict[str, Any], caller: SocialCaller, *, actionable: bool) -> Response:
    page, size = page_args(data)
    container = container_of(request)
    async with container.read() as conn:
        found, count = await notifications.list_notifications(
            conn, caller.user_id, actionable=actionable, limit=size, offset=offset_of(page, size))
        actors = await profiles.get_profiles(conn, [n.actor_id for n in found if n.actor_id is not None])
        clubs = await communities.get_clubs(conn, {n.club_id for n in found if n.club_id is not None})
        settings = await notifications.get_settings(conn, caller.user_id)
    unread = [n.id for n in found if n.is_unread]
    if unread and not actionable:  # seen now
        async with container.uow() as uow:
            await notifications.do_mark_read(uow, caller.user_id, unread)
    extra = {} if actionable else {"disabled": settings.is_paused}
    return ok(notifications=[_render(n, actors, clubs, actionable=actionable) for n in found], **extra,
              **paged(found, count, page, size))


@endpoint(router, "get_notifications", example={"page_size": 20, "page": 1})
async def get_notifications(request: Request, data: dict[str, Any] = Depends(params),
                            caller: SocialCaller = Depends(signed_in)) -> Response:
    """Your notifications, newest first (fetching a page marks it read)."""
    return await _list(request, data, caller, actionable=False)


@endpoint(router, "get_actionable_notifications")
async def get_actionable_notifications(request: Request, data: dict[str, Any] = Depends(params),
                                       caller: SocialCaller = Depends(signed_in)) -> Response:
    """Notifications waiting for you to act (club invites, friends on the waitlist)."""
    return await _list(request, data, caller, actionable=True)


@endpoint(router, "ignore_actionable_notification", example={"actionable_notification_id": 1})
async def ignore_actionable_notification(request: Request, data: dict[str, Any] = Depends(params),
                                         caller: SocialCaller = Depends(signed_in)) -> Response:
    notification_id = int_param(data, "actionable_notification_id")
    assert notification_id is not None
    async with container_of(request).uow() as uow:
        await notifications.do_ignore_actionable(uow, caller.user_id, notification_id)
    return ok()


def _settings(s: notifications.Settings) -> dict[str, Any]:
    return {"notifications_enable_trending": s.enable_trending, "notifications_frequency": s.frequency,
            "notifications_is_paused": s.is_paused, "notifications_paused_until": s.paused_until if s.is_paused else None}


@endpoint(router, "get_settings")
async def get_settings(request: Request, caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).read() as conn:
        return ok(**_settings(await notifications.get_settings(conn, caller.user_id)))


@endpoint(router, "update_notifications",
          example={"enable_trending": -1, "frequency": -1, "pause_till": -1, "system_enabled": 2})
async def update_notifications(request: Request, data: dict[str, Any] = Depends(params),
                               caller: SocialCaller = Depends(signed_in)) -> Response:
    """``enable_trending`` (bool or -1: unchanged), ``frequency`` (1-3 or -1), ``pause_till``
    (seconds from now, 0 to resume, -1 unchanged), ``system_enabled``, ``apn_token``."""
    trending = data.get("enable_trending")
    enable_trending = None if trending in (None, -1, "-1") else bool_param(data, "enable_trending")
    frequency = int_param(data, "frequency", required=False)
    system_enabled = int_param(data, "system_enabled", required=False)
    pause = int_param(data, "pause_till", required=False)
    paused_until: Any = False
    if pause is not None and pause >= 0:
        paused_until = now() + timedelta(seconds=min(pause, 10 * 365 * 86400)) if pause > 0 else None
    async with container_of(request).uow() as uow:
        updated = await notifications.do_update_settings(
            uow, caller.user_id, enable_trending=enable_trending,
            frequency=None if frequency in (None, -1) else frequency, paused_until=paused_until,
            system_enabled=None if system_enabled == -1 else system_enabled,
            apn_token=str_param(data, "apn_token", max_length=255))
    return ok(**_settings(updated))
