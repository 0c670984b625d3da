"""Boards: create, edit, get, list, reorder, private members, delete; a board's posts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from townhall.api.forum import render
from townhall.api.forum.http import OK, Caller, Id, Paging, container_of, create_once, respond, respond_list, unit
from townhall.core.forum import boards, posts
from townhall.core.uow import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["boards"])


class BoardBody(BaseModel):
    board_name: str = Field(max_length=255)
    about: str | None = Field(None, max_length=60_000)
    is_private: bool
    hidden_type: int = Field(description="0 visible to all, 1 to logged-in members, 2 only to the board's members")
    permission_for: int = Field(description="1 admins, 5 admins and moderators, 10 any member can post")
    needs_approval: bool
    icon: str | None = Field(None, max_length=2000)
    pinned_posts: list[int] | None = Field(None, max_length=50)

    def fields(self) -> boards.BoardFields:
        return boards.BoardFields(**self.model_dump())


class ReorderBody(BaseModel):
    display_order: dict[int, int] = Field(max_length=1000, description="board id → display position (from 1)")


class MembersBody(BaseModel):
    member_changes: dict[str, bool] = Field(max_length=1000, description="user msid → true (add) / false (remove)")


@router.post("/boards")
async def create_board(request: Request, api: Caller, body: BoardBody) -> Response:
    async def build(uow: UnitOfWork) -> dict[str, Any]:
        return render.board(await boards.do_create_board(uow, api, body.fields()))

    return await create_once(request, api, build)


@router.get("/boards")
async def list_boards(request: Request, api: Caller, page: Paging) -> Response:
    async with container_of(request).read() as conn:
        found, more = await boards.list_boards(conn, api, page)
    return respond_list(found, more, render.board)


@router.patch("/boards/reorder")
async def reorder_boards(request: Request, api: Caller, body: ReorderBody) -> Response:
    async with unit(request) as uow:
        await boards.do_reorder(uow, api, body.display_order)
    return respond(OK)


@router.get("/boards/{board_id}")
async def get_board(request: Request, api: Caller, board_id: Id) -> Response:
    async with container_of(request).read() as conn:
        board = await boards.access_board(conn, api, board_id)
    return respond(render.board(board))


@router.put("/boards/{board_id}")
async def edit_board(request: Request, api: Caller, board_id: Id, body: BoardBody) -> Response:
    async with unit(request) as uow:
        board = await boards.do_edit_board(uow, api, board_id, body.fields())
    return respond(render.board(board))


@router.delete("/boards/{board_id}")
async def delete_board(request: Request, api: Caller, board_id: Id) -> Response:
    async with unit(request) as uow:
        await boards.do_delete_board(uow, api, board_id)
    return respond(OK)


@router.put("/boards/{board_id}/members")
async def change_members(request: Request, api: Caller, board_id: Id, body: MembersBody) -> Response:
    async with unit(request) as uow:
        await boards.do_change_members(uow, api, board_id, body.member_changes)
    return respond(OK)


@router.get("/boards/{board_id}/posts")
async def board_posts(request: Request, api: Caller, board_id: Id, page: Paging,
                      status: Annotated[int | None, Query(description="post status (moderators), default 15")] = None
                      ) -> Response:
    async with container_of(request).read() as conn:
        found, more = await posts.list_board_posts(conn, api, board_id, status, page)
    return respond_list(found, more, render.post)
