"""Experts surface routes: calls (Clarity ``/v1/calls``); the call rendering and page parameters the
needs routes share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from townhall.api.experts.http import (
    MemberLimits,
    clarity_time,
    container_of,
    current_member,
    json_response,
    member_within,
    params,
)
from townhall.core.calls import actions, service
from townhall.core.calls.models import Call

router = APIRouter(tags=["calls"])

Member = Annotated[int, Depends(current_member)]
# The caller, counted against their calls a minute (experts.calls_per_minute): requesting or connecting one.
CallingMember = Annotated[int, Depends(member_within(MemberLimits.CALL))]
CALLS_LIMIT_DOC = ("Calls requested and connected count together, at most `experts.calls_per_minute` (10) a "
                   "minute per member: past it, 429 `rate_limited` with `Retry-After`.")
Limit = Annotated[int, Query(ge=1, le=service.MAX_PAGE, description="page size (newest first)")]
Offset = Annotated[int, Query(ge=0, description="how many to skip")]

CALL_FIELDS = ("created_at, canceled_by, duration (seconds both parties were in the call, once completed), "
               "expert_id, expires_at, hourly_rate (the expert's rate, frozen when the call was requested), id, "
               "reason, seeker_id, status, updated_at")
CONNECTION_DOC = (
    "townhall extension: while the call is dialing or answered (dialing_seeker, seeker_answered, dialing_expert, "
    "expert_answered) the answer to one of its two parties also carries `\"connection\": {\"connection_url\": "
    "\"...\"}`, that party's way into the call's private audio room (`janus:<server>?room=..&pin=..&id=.."
    "&display=..&token=..` or `livekit:<server>?access_token=..`). Each party is also dialled on their event "
    "topic (`call.dial` with the same URL) and by a push notification. The status moves on as the parties "
    "really join and leave: dialing_seeker → seeker_answered (the seeker joined) → dialing_expert → "
    "expert_answered (both in) → call_completed (one hung up); a dialled party that does not join within the "
    "dial timeout ends the call as seeker_unavailable or expert_unavailable. A party whose connection drops "
    "(with Janus every leave counts as a drop) may rejoin (GET /v1/calls/{id} still answers their "
    "`connection`, the same URL for up to 30 s, so polling does not mint new credentials each time) within the "
    "reconnect grace (`experts.reconnect_grace`, 30 s by default) and the call goes on; "
    "otherwise it completes as of the moment they left. `duration` counts only the seconds both parties were in the call."
)


def render_call(call: Call, connection_url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "created_at": clarity_time(call.created_at), "canceled_by": call.canceled_by, "duration": call.duration,
        "expert_id": call.expert_id, "expires_at": clarity_time(call.expires_at),
        "hourly_rate": call.hourly_rate_cents / 100, "id": call.id, "reason": call.reason,
        "seeker_id": call.seeker_id, "status": call.status, "updated_at": clarity_time(call.updated_at),
    }
    if connection_url is not None:
        body["connection"] = {"connection_url": connection_url}
    return body


async def _list(request: Request, user_id: int, which: str, limit: int, offset: int) -> Response:
    async with container_of(request).read() as conn:
        found = await service.list_calls(conn, user_id, which, limit=limit, offset=offset)
    return json_response([render_call(c) for c in found])


@router.get("/calls/requested", summary="Pending calls where I am the seeker",
            description=f"Newest first, `limit`/`offset` paged. Fields: {CALL_FIELDS}.")
async def requested(request: Request, me: Member, limit: Limit = 50, offset: Offset = 0) -> Response:
    return await _list(request, me, service.REQUESTED, limit, offset)


@router.get("/calls/callback", summary="Pending calls where I am the expert",
            description="These can be connected with POST /v1/calls/{id}/connect. Newest first, paged.")
async def callback(request: Request, me: Member, limit: Limit = 50, offset: Offset = 0) -> Response:
    return await _list(request, me, service.CALLBACK, limit, offset)


@router.get("/calls/completed", summary="My completed calls (as expert or seeker)")
async def completed(request: Request, me: Member, limit: Limit = 50, offset: Offset = 0) -> Response:
    return await _list(request, me, service.COMPLETED_LIST, limit, offset)


@router.get("/calls/canceled", summary="My canceled calls (as expert or seeker)",
            description="Includes requests that expired unanswered (status canceled, canceled_by null) and calls "
                        "that ended because the dialled party did not join in time (status seeker_unavailable "
                        "or expert_unavailable, canceled_by null).")
async def canceled(request: Request, me: Member, limit: Limit = 50, offset: Offset = 0) -> Response:
    return await _list(request, me, service.CANCELED_LIST, limit, offset)


@router.post("/calls", summary="Request a call with an expert", status_code=201,
             description="Parameters (query, form or JSON): `expert_id` (required), `reason` (required, at most "
                         "140 characters), `expires_in` (hours, 1 to 720, default 72). The expert's current hourly "
                         "rate is frozen on the call. Send an `Idempotency-Key` header to make retries safe: the "
                         "same key answers the call the first request made. " + CALLS_LIMIT_DOC)
async def request_call(request: Request, me: CallingMember,
                       idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> Response:
    given = await params(request)
    call = await actions.request_call(container_of(request), me, given.get("expert_id"), given.get("reason"),
                                      given.get("expires_in"), idempotency_key=idempotency_key)
    return json_response(render_call(call), 201)


@router.get("/calls/{call_id}", summary="A call (its seeker or expert only)", description=CONNECTION_DOC)
async def get_call(request: Request, me: Member, call_id: str) -> Response:
    container = container_of(request)
    async with container.read() as conn:
        call = await service.access_call(conn, me, call_id)
    return json_response(render_call(call, await actions.connection(container, me, call)))


@router.post("/calls/{call_id}/connect", summary="Connect a pending call (the expert only)",
             description="Makes the call's private audio room and dials the seeker; the answer carries the "
                         "expert's own `connection`. 403 for the seeker, 409 for a call that is not pending "
                         "(or expired), 404 for anyone else. " + CALLS_LIMIT_DOC + " " + CONNECTION_DOC)
async def connect(request: Request, me: CallingMember, call_id: str) -> Response:
    done = await actions.connect(container_of(request), me, call_id)
    return json_response(render_call(done.call, done.connection_url))


async def _cancel(request: Request, me: int, call_id: str) -> Response:
    call = await actions.cancel(container_of(request), me, call_id)
    return json_response(render_call(call))


@router.post("/calls/{call_id}/cancel", summary="Cancel a call (either party)",
             description="A call not yet answered (pending, dialing) becomes `canceled`, with `canceled_by`; a call "
                         "in progress is ended by leaving it (409 here).")
async def cancel(request: Request, me: Member, call_id: str) -> Response:
    return await _cancel(request, me, call_id)


@router.delete("/calls/{call_id}", summary="Cancel a call (either party)", description="As POST /calls/{id}/cancel.")
async def delete_call(request: Request, me: Member, call_id: str) -> Response:
    return await _cancel(request, me, call_id)
