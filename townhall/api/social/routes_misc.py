"""App housekeeping: updates, release notes, the welcome room, analytics, incident reports."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social.http import (
    SocialCaller,
    container_of,
    endpoint,
    list_param,
    ok,
    params,
    signed_in,
    user_id_param,
)
from townhall.core.social import incidents

log = logging.getLogger(__name__)
router = APIRouter(tags=["app"])
MAX_TRAILS = 500


@endpoint(router, "check_for_update")
async def check_for_update(data: dict[str, Any] = Depends(params)) -> Response:
    """A self-hosted server never asks the app to update."""
    return ok(has_update=False)


@endpoint(router, "get_release_notes")
async def get_release_notes(caller: SocialCaller = Depends(signed_in)) -> Response:
    return ok(should_display=False, title=None, action=None, url=None)


@endpoint(router, "get_welcome_channel")
async def get_welcome_channel(caller: SocialCaller = Depends(signed_in)) -> Response:
    return ok(is_empty=True)


@endpoint(router, "record_action_trails",
          example={"action_trails": [{"blob_data": {}, "client_time_created": 1612971962, "trail_type": "app_opened"}]})
async def record_action_trails(data: dict[str, Any] = Depends(params),
                               caller: SocialCaller = Depends(signed_in)) -> Response:
    """Client analytics: counted in the log (debug), not kept."""
    trails = list_param(data, "action_trails")[:MAX_TRAILS]
    log.debug("action trails", extra={"user_id": caller.user_id, "trails": len(trails)})
    return ok()


@endpoint(router, "report_incident",
          example={"user_id": 1234, "channel": "abcdefgh", "incident_type": 1, "incident_description": "...", "email": None})
async def report_incident(request: Request, data: dict[str, Any] = Depends(params),
                          caller: SocialCaller = Depends(signed_in)) -> Response:
    """Into the moderation queue (``townhall incidents`` lists it)."""
    async with container_of(request).uow() as uow:
        await incidents.do_report(
            uow, caller.user_id, user_id=user_id_param(data, required=False), channel=data.get("channel"),
            incident_type=data.get("incident_type"), description=data.get("incident_description"),
            email=data.get("email"))
    return ok()
