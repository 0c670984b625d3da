"""Experts surface routes: expert search (Clarity ``/v1/search``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from townhall.api.experts import render
from townhall.api.experts.http import container_of, json_response
from townhall.api.experts.routes_members import Me
from townhall.core.experts import members, search

router = APIRouter(tags=["search"])

SEARCH_DOC = (
    f"{search.PAGE_SIZE} members at a time: `{{\"matches\": <how many in all>, \"members\": [brief members]}}`. "
    "Every word of `q` must start a word of the member's name, screen name, bio, expertise or location. "
    "Members whose name or screen name has the first word come first; then experts (a rate or expertise), "
    "then the most completed calls, then the best text match. `offset` pages "
    f"through the matches (0 to {search.MAX_OFFSET})."
)


async def _search(request: Request, q: str, offset: int) -> Response:
    base_url = container_of(request).settings.base_url()
    async with container_of(request).read() as conn:
        ids, total = await search.search_experts(conn, q, offset=offset)
        found = await members.get_members(conn, ids)
    return json_response({"matches": total,
                          "members": [render.brief_member(found[i], base_url) for i in ids if i in found]})


@router.get("/search", summary="Search for an expert", description=SEARCH_DOC)
async def search_query(
    request: Request, _: Me, q: Annotated[str, Query(max_length=search.MAX_QUERY, description="a search term")],
    offset: Annotated[int, Query(ge=0, le=search.MAX_OFFSET, description="matches to skip")] = 0,
) -> Response:
    return await _search(request, q, offset)


@router.get("/search/{q}", summary="Search for an expert (the term in the path)", description=SEARCH_DOC)
async def search_path(
    request: Request, _: Me, q: str,
    offset: Annotated[int, Query(ge=0, le=search.MAX_OFFSET, description="matches to skip")] = 0,
) -> Response:
    return await _search(request, q, offset)
