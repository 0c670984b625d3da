"""Experts surface routes: needs (Clarity ``/v1/needs``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from townhall.api.experts.http import clarity_time, container_of, json_response, params
from townhall.api.experts.routes_calls import Limit, Member, Offset, render_call
from townhall.core.calls import actions, service
from townhall.core.calls.models import Need

router = APIRouter(tags=["needs"])


def render_need(need: Need) -> dict[str, Any]:
    return {"id": need.id, "created_at": clarity_time(need.created_at), "description": need.description, "paid": need.paid,
            "requester_id": need.requester_id}


@router.get("/needs", summary="Open needs of the members of my organizations (and mine)",
            description="Needs not yet fulfilled, posted by members who share an organization with me, and my own; "
                        "newest first, `limit`/`offset` paged.")
async def list_needs(request: Request, me: Member, limit: Limit = 50, offset: Offset = 0) -> Response:
    async with container_of(request).read() as conn:
        found = await service.list_needs(conn, me, limit=limit, offset=offset)
    return json_response([render_need(n) for n in found])


@router.post("/needs", summary="Post a need", status_code=201,
             description=f"Parameters (query, form or JSON): `description` (required, at most {service.MAX_NEED} "
                         "characters), `paid` (are you willing to pay? default false). Answers a list holding the "
                         "new need, as Clarity does.")
async def post_need(request: Request, me: Member) -> Response:
    given = await params(request)
    async with container_of(request).uow() as unit:
        need = await service.do_post_need(unit, me, given.get("description"), given.get("paid"))
    return json_response([render_need(need)], 201)


@router.post("/needs/{need_id}/fulfill", summary="Fulfill a need: a pending call with its requester",
             description="Creates a pending call request: seeker = the need's requester, expert = me, reason = the "
                         "need's description (shortened to 140 characters), rate = my hourly rate if the need is "
                         "paid, else 0. A need is fulfilled once (409 after; the same fulfiller again gets the same "
                         "call); not my own (403); needs I cannot see are 404. Optional `expires_in` (hours).")
async def fulfill(request: Request, me: Member, need_id: str) -> Response:
    given = await params(request)
    call = await actions.fulfill_need(container_of(request), me, need_id, expires_in=given.get("expires_in"))
    return json_response(render_call(call), 201)
