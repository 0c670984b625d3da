"""Experts surface routes: members (Clarity ``/v1/me``, ``/v1/members``; ``/1/members/current`` for
omniauth-clarity) and the member's expert settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from townhall.api.experts import render
from townhall.api.experts.http import container_of, current_member, json_response, params
from townhall.core.experts import members

router = APIRouter(tags=["members"])
# Clarity's first API version, mounted without the /v1 prefix: omniauth-clarity (the Ruby OAuth client)
# reads the signed-in member at GET /1/members/current after the token exchange.
v1_compat_router = APIRouter(tags=["members"])

Me = Annotated[int, Depends(current_member)]

MEMBER_DOC = (
    "The full member object: statistics from the member's completed calls as the expert (`total_calls`, "
    "`average_call_duration` and `average_response_time` (request to connection) in seconds), "
    "`profile_page_views_count` (fetches of the profile by other members), `hourly_rate` as text "
    "(`\"20.0\"`, as Clarity shows it here), `timezone` an IANA name with its abbreviation and UTC offset "
    "(hours) now (UTC when unset), `clarity_url` the member's page, `verified_phone_number` (signed in with "
    "a phone number), `twitter_profile_url` from the profile's Twitter handle; facebook, linkedin and gender "
    "are not known (null/false)."
)
SETTINGS_DOC = (
    "Change the member's expert settings; parameters (query, form or JSON), each optional, at least one: "
    f"`hourly_rate` (0 to {members.MAX_HOURLY_RATE}, at most two decimals), `expertise` (at most "
    f"{members.MAX_EXPERTISE} characters, shown as `expertise_body`), `location`, `timezone` (an IANA name such "
    "as `America/Halifax`; empty: none), `charity_name`, `charity_url`, `charity_logo` (http or https URLs; "
    "empty: none). All or nothing: one invalid value changes nothing (400). Answers the full member object."
)
_SETTINGS_BODY = {"requestBody": {"required": False, "content": {
    media: {"schema": {"type": "object", "properties": {
        "hourly_rate": {"type": "string", "example": "120.50"}, "expertise": {"type": "string"},
        "location": {"type": "string"}, "timezone": {"type": "string", "example": "America/Halifax"},
        "charity_name": {"type": "string"}, "charity_url": {"type": "string", "format": "uri"},
        "charity_logo": {"type": "string", "format": "uri"}}}}
    for media in ("application/x-www-form-urlencoded", "application/json")}}}


def _full(request: Request, found: tuple[members.Member, members.Stats]) -> Response:
    member, stats = found
    return json_response(render.full_member(member, stats, container_of(request).settings.base_url()))


@router.get("/me", summary="The current member", description=MEMBER_DOC)
@v1_compat_router.get("/1/members/current", summary="The current member (as GET /v1/me)",
                      description="For omniauth-clarity, which reads the member here after the token exchange. "
                                  + MEMBER_DOC)
async def get_me(request: Request, me: Me) -> Response:
    async with container_of(request).read() as conn:
        return _full(request, await members.profile_of(conn, me, viewer_id=me))


async def _update_me(request: Request, me: int) -> Response:
    given: dict[str, Any] = await params(request)
    async with container_of(request).uow() as uow:
        await members.do_update_expert_settings(uow, me, given)
    async with container_of(request).read() as conn:
        return _full(request, await members.profile_of(conn, me, viewer_id=me))


@router.put("/me", summary="Change my expert settings", description=SETTINGS_DOC, openapi_extra=_SETTINGS_BODY)
async def put_me(request: Request, me: Me) -> Response:
    return await _update_me(request, me)


@router.post("/me", summary="Change my expert settings (as PUT)", description=SETTINGS_DOC,
             openapi_extra=_SETTINGS_BODY)
async def post_me(request: Request, me: Me) -> Response:
    return await _update_me(request, me)


async def _view(request: Request, me: int, **lookup: Any) -> Response:
    """Another member's profile (a page view when it is not mine): the write is one counter."""
    container = container_of(request)
    async with container.read() as conn:
        member_id = await members.find_member_id(conn, **lookup)
        await members.access_member(conn, member_id, viewer_id=me)
    if member_id != me:
        async with container.uow() as uow:
            await members.do_count_profile_view(uow, me, member_id)
    async with container.read() as conn:
        return _full(request, await members.profile_of(conn, member_id, viewer_id=me))


@router.get("/members", summary="A member by id, screen name, Twitter handle or e-mail; else the current member",
            description=MEMBER_DOC + " With none of `id`, `twitter`, `email`: the current member. 404 when nobody "
                                     "matches (or the member is not shown: deactivated, banned, waitlisted).")
async def find_member(
    request: Request, me: Me,
    id: Annotated[str | None, Query(description="a member id or screen name")] = None,  # noqa: A002
    twitter: Annotated[str | None, Query(description="a Twitter handle")] = None,
    email: Annotated[str | None, Query(description="an e-mail address")] = None,
) -> Response:
    if id is None and twitter is None and email is None:
        return await get_me(request, me)
    return await _view(request, me, ref=id, twitter=twitter, email=email)


@router.get("/members/{member}", summary="A member by id or screen name", description=MEMBER_DOC)
async def get_member(request: Request, me: Me, member: str) -> Response:
    return await _view(request, me, ref=member)
