"""Experts surface routes: organizations (Clarity ``/v1/organizations``), which are communities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from townhall.api.experts import render
from townhall.api.experts.http import container_of, json_response
from townhall.api.experts.routes_members import Me
from townhall.core.experts import members, organizations
from townhall.core.fields import check_positive_id

router = APIRouter(tags=["organizations"])

ORG_DOC = (
    "Organizations are the communities (the social surface's clubs). `featured` and `free_calls` are always "
    "false (communities hold no such flags); `id` (not in Clarity's examples) names it for "
    "GET /v1/organizations/:id; `image_url` is the community's photo."
)


@router.get("/organizations", summary="The organizations I am a member of",
            description=ORG_DOC + f" Each with `member_ids` (at most {organizations.MAX_MEMBER_IDS}, oldest "
                                  "membership first); admins' organizations first.")
async def list_organizations(request: Request, me: Me) -> Response:
    base_url = container_of(request).settings.base_url()
    async with container_of(request).read() as conn:
        found = await organizations.organizations_of(conn, me)
    return json_response([{**render.organization(org, base_url), "member_ids": ids} for org, ids in found])


@router.get("/organizations/{organization_id}", summary="An organization I am a member of, with its members",
            description=ORG_DOC + " `members`: brief member objects, admins first, paged by `limit`/`offset` "
                                  "(`member_count`: how many in all). 404: no such organization; 403: not a "
                                  "member of it.")
async def get_organization(
    request: Request, me: Me, organization_id: str,
    limit: Annotated[int, Query(ge=1, le=organizations.MAX_MEMBERS_PAGE, description="members per page")]
    = organizations.MAX_MEMBERS_PAGE,
    offset: Annotated[int, Query(ge=0, description="members to skip")] = 0,
) -> Response:
    org_id = check_positive_id(organization_id, "organization_id")
    base_url = container_of(request).settings.base_url()
    async with container_of(request).read() as conn:
        org = await organizations.access_organization(conn, me, org_id)
        ids, total = await organizations.organization_member_ids(conn, me, org_id, limit=limit, offset=offset)
        found = await members.get_members(conn, ids, only_visible=True)
    return json_response({**render.organization(org, base_url), "member_count": total,
                          "members": [render.brief_member(found[i], base_url) for i in ids if i in found]})
