"""Users (me, create, update, get, list, patch role) and roles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from townhall.api.forum import render
from townhall.api.forum.errors import ForumError
from townhall.api.forum.http import Caller, Paging, container_of, create_once, respond, respond_list, unit
from townhall.core.forum import users
from townhall.core.forum.models import Page, split_page
from townhall.core.uow import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["users"])
ACTION_CHANGE_ROLE = 101


class SocialLinks(BaseModel):
    Twitter: str | None = None
    Linkedin: str | None = None


class UserBody(BaseModel):
    first_name: str
    middle_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    user_avatar: str | None = None
    lang: str | None = None
    timezone: str | None = None


class NewUserBody(UserBody):
    email: str
    sso_id: str | None = None
    user_status: int | None = Field(None, description="10 active (default), 4 wait-list, 5 invited, 6 unverified")


class UserUpdateBody(UserBody):
    user_description: str | None = Field(None, description="HTML")
    banner: str | None = None
    social_media_links: SocialLinks | None = None


class PatchBody(BaseModel):
    action: int = Field(description="101: update::role")
    data: dict[str, Any]
    details: str | None = None


def _fields(body: UserBody) -> users.UserFields:
    values = body.model_dump(exclude_none=False)
    given = set(body.model_fields_set)
    if isinstance(body, UserUpdateBody) and body.social_media_links is not None:
        values["social_media_links"] = body.social_media_links.model_dump(exclude_none=True)
    return users.UserFields(**values, given=given)


@router.get("/users")
async def list_users(request: Request, api: Caller, page: Paging,
                     sort_by: Annotated[Literal["user_id", "joined", "name"], Query()] = "user_id",
                     order: Annotated[Literal["asc", "desc"], Query()] = "desc",
                     status: Annotated[int, Query(description="user_status to list")] = 10) -> Response:
    async with container_of(request).read() as conn:
        found, more = await users.list_users(conn, api, sort_by=sort_by, order=order, status=status, page=page)
    return respond_list(found, more, render.user_item)


@router.get("/users/me")
async def me(request: Request, api: Caller) -> Response:
    async with container_of(request).read() as conn:
        profile = await users.get_profile(conn, api.user_id)
    return respond(render.user(profile, api))


@router.post("/users")
async def create_user(request: Request, api: Caller, body: NewUserBody) -> Response:
    async def build(uow: UnitOfWork) -> dict[str, Any]:
        profile, _ = await users.do_create_user(uow, api, _fields(body))
        return render.user(profile, api)

    return await create_once(request, api, build)


@router.get("/users/{msid}")
async def get_user(request: Request, api: Caller, msid: str) -> Response:
    async with container_of(request).read() as conn:
        profile = await users.access_user(conn, api, msid)
    return respond(render.user(profile, api))


@router.put("/users/{msid}")
async def update_user(request: Request, api: Caller, msid: str, body: UserUpdateBody) -> Response:
    async with unit(request) as uow:
        profile = await users.access_by_msid(uow.conn, msid)
        profile = await users.do_update_user(uow, api, profile, _fields(body))
    return respond(render.user(profile, api))


@router.patch("/users/{msid}")
async def patch_user(request: Request, api: Caller, msid: str, body: PatchBody) -> Response:
    if body.action != ACTION_CHANGE_ROLE:
        raise ForumError(400, f"unknown action {body.action}; supported: {ACTION_CHANGE_ROLE} (update::role)")
    if "role_id" not in body.data:
        raise ForumError(400, "data.role_id is required for action 101")
    async with unit(request) as uow:
        profile = await users.access_by_msid(uow.conn, msid)
        profile = await users.do_change_role(uow, api, profile, body.data["role_id"])
    return respond(render.user(profile, api))


@router.get("/roles")
async def list_roles(api: Caller, page: Paging) -> Response:
    roles = users.list_roles()[page.offset: page.offset + page.size + 1]
    found, more = split_page(roles, Page(page.page, page.size))
    return respond_list(found, more, render.role)
