"""Tags: get, list, create, edit, search; mapping to posts, comments, replies and users."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from townhall.api.forum import render
from townhall.api.forum.errors import ForumError
from townhall.api.forum.http import OK, Caller, Id, Paging, container_of, create_once, respond, respond_list, unit
from townhall.core.fields import is_digits
from townhall.core.forum import tags
from townhall.core.uow import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["tags"])
RefType = Literal["POST", "COMMENT", "REPLY", "USER"]


class TagBody(BaseModel):
    name: str
    description: str | None = None
    image: str | None = None
    og_image: str | None = None
    og_title: str | None = None
    og_description: str | None = None
    back_color: str | None = None
    text_color: str | None = None


class MappingBody(BaseModel):
    tag_id: int | str
    ref_type: RefType
    ref_id: int | str


def _ids(raw: str | None) -> list[int] | None:
    if raw is None:
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or not all(is_digits(p) and len(p) <= 18 for p in parts):
        raise ForumError(400, "ids must be a comma-separated list of tag ids, e.g. ids=1,13,18")
    return [int(p) for p in parts]


@router.get("/tags")
async def list_tags(request: Request, api: Caller, page: Paging,
                    sort_by: Annotated[Literal["id", "name"] | None, Query()] = None,
                    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
                    ids: Annotated[str | None, Query(description="e.g. 1,13,18")] = None) -> Response:
    async with container_of(request).read() as conn:
        found, more = await tags.list_tags(conn, sort_by=sort_by, order=order, ids=_ids(ids), page=page)
    return respond_list(found, more, render.tag_item)


@router.post("/tags")
async def create_tag(request: Request, api: Caller, body: TagBody) -> Response:
    async def build(uow: UnitOfWork) -> dict[str, Any]:
        return render.tag(await tags.do_create_tag(uow, api, tags.TagFields(**body.model_dump())))

    return await create_once(request, api, build)


@router.get("/tags/search")
async def search_tags(request: Request, api: Caller, page: Paging,
                      q: Annotated[str, Query(min_length=1, max_length=128)]) -> Response:
    async with container_of(request).read() as conn:
        found, more = await tags.search_tags(conn, q, page)
    return respond_list(found, more, render.tag_item)


@router.get("/tags/mapping")
async def tag_mapping(request: Request, api: Caller, page: Paging, ref_type: Annotated[RefType, Query()],
                      ref_id: Annotated[str, Query(max_length=64)]) -> Response:
    async with container_of(request).read() as conn:
        found, more = await tags.tags_of(conn, api, ref_type, ref_id, page)
    return respond_list(found, more, render.tag_item)


@router.post("/tags/mapping")
async def add_mapping(request: Request, api: Caller, body: MappingBody) -> Response:
    async with unit(request) as uow:
        await tags.do_map_tag(uow, api, body.tag_id, body.ref_type, body.ref_id)
    return respond(OK)


@router.delete("/tags/mapping")
async def remove_mapping(request: Request, api: Caller, tag_id: Annotated[int, Query(ge=1, le=2**62)],
                         ref_type: Annotated[RefType, Query()], ref_id: Annotated[str, Query(max_length=64)]
                         ) -> Response:
    async with unit(request) as uow:
        await tags.do_unmap_tag(uow, api, tag_id, ref_type, ref_id)
    return respond(OK)


@router.get("/tags/{tag_id}")
async def get_tag(request: Request, api: Caller, tag_id: Id) -> Response:
    async with container_of(request).read() as conn:
        tag = await tags.get_tag(conn, tag_id)
    return respond(render.tag(tag))


@router.put("/tags/{tag_id}")
async def edit_tag(request: Request, api: Caller, tag_id: Id, body: TagBody) -> Response:
    async with unit(request) as uow:
        tag = await tags.do_edit_tag(uow, api, tag_id, tags.TagFields(**body.model_dump()))
    return respond(render.tag(tag))
