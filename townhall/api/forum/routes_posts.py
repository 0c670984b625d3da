"""Posts, comments, replies, reactions, approval and search."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from townhall.api.forum import render
from townhall.api.forum.http import OK, Caller, Id, Paging, container_of, create_once, respond, respond_list, unit
from townhall.core.forum import posts
from townhall.core.forum.models import Comment, Post, Reply
from townhall.core.uow import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["posts"])
RefType = Literal["POST", "COMMENT", "REPLY"]


class PostBody(BaseModel):
    board_id: int | str
    headline: str
    content: str = Field(description="HTML; sanitised")
    authors: list[str] = Field(description="msids of the authors; the first one is used")


class CommentBody(BaseModel):
    post_id: int | str
    content: str
    author: str = Field(description="msid of the author")


class ReplyBody(BaseModel):
    comment_id: int | str
    content: str
    author: str = Field(description="msid of the author")


class ContentBody(BaseModel):
    content: str


class ReactionBody(BaseModel):
    ref_type: RefType
    ref_id: int | str
    slot: int | str = Field(description="s1..sN (or its number)")
    user: str = Field(description="msid of the user reacting")


def _any(thing: Any) -> dict[str, Any]:
    if isinstance(thing, Post):
        return render.post(thing)
    if isinstance(thing, Comment):
        return render.comment(thing)
    assert isinstance(thing, Reply)
    return render.reply(thing)


# -- posts


@router.get("/posts/search")
async def search_posts(request: Request, api: Caller, page: Paging,
                       q: Annotated[str, Query(min_length=1, max_length=200)]) -> Response:
    async with container_of(request).read() as conn:
        found, more = await posts.search_posts(conn, api, q, page)
    return respond_list(found, more, render.post)


@router.post("/posts")
async def create_post(request: Request, api: Caller, body: PostBody) -> Response:
    async def build(uow: UnitOfWork) -> dict[str, Any]:
        return render.post(await posts.do_create_post(uow, api, body.board_id, body.headline, body.content,
                                                      body.authors))

    return await create_once(request, api, build)


@router.get("/posts/{post_id}")
async def get_post(request: Request, api: Caller, post_id: Id) -> Response:
    async with unit(request) as uow:
        post = await posts.do_view_post(uow, api, post_id)
    return respond(render.post(post))


@router.put("/posts/{post_id}")
async def edit_post(request: Request, api: Caller, post_id: Id, body: PostBody) -> Response:
    async with unit(request) as uow:
        post = await posts.do_edit_post(uow, api, post_id, body.board_id, body.headline, body.content, body.authors)
    return respond(render.post(post))


@router.delete("/posts/{post_id}")
async def delete_post(request: Request, api: Caller, post_id: Id) -> Response:
    async with unit(request) as uow:
        await posts.do_delete_post(uow, api, post_id)
    return respond(OK)


@router.post("/posts/{post_id}/approve")
async def approve_post(request: Request, api: Caller, post_id: Id) -> Response:
    async with unit(request) as uow:
        post = await posts.do_review_post(uow, api, post_id, approve=True)
    return respond(render.post(post))


@router.post("/posts/{post_id}/reject")
async def reject_post(request: Request, api: Caller, post_id: Id) -> Response:
    async with unit(request) as uow:
        post = await posts.do_review_post(uow, api, post_id, approve=False)
    return respond(render.post(post))


@router.get("/posts/{post_id}/comments")
async def post_comments(request: Request, api: Caller, post_id: Id, page: Paging) -> Response:
    async with container_of(request).read() as conn:
        found, more = await posts.list_comments(conn, api, post_id, page)
    return respond_list(found, more, render.comment)


# -- comments


@router.post("/comments")
async def create_comment(request: Request, api: Caller, body: CommentBody) -> Response:
    async def build(uow: UnitOfWork) -> dict[str, Any]:
        return render.comment(await posts.do_create_comment(uow, api, body.post_id, body.content, body.author))

    return await create_once(request, api, build)


@router.get("/comments/{comment_id}")
async def get_comment(request: Request, api: Caller, comment_id: Id) -> Response:
    async with container_of(request).read() as conn:
        comment = await posts.access_comment(conn, api, comment_id)
    return respond(render.comment(comment))


@router.put("/comments/{comment_id}")
async def edit_comment(request: Request, api: Caller, comment_id: Id, body: ContentBody) -> Response:
    async with unit(request) as uow:
        comment = await posts.do_edit_comment(uow, api, comment_id, body.content)
    return respond(render.comment(comment))


@router.delete("/comments/{comment_id}")
async def delete_comment(request: Request, api: Caller, comment_id: Id) -> Response:
    async with unit(request) as uow:
        await posts.do_delete_comment(uow, api, comment_id)
    return respond(OK)


@router.get("/comments/{comment_id}/replies")
async def comment_replies(request: Request, api: Caller, comment_id: Id, page: Paging) -> Response:
    async with container_of(request).read() as conn:
        found, more = await posts.list_replies(conn, api, comment_id, page)
    return respond_list(found, more, render.reply)


# -- replies


@router.post("/replies")
async def create_reply(request: Request, api: Caller, body: ReplyBody) -> Response:
    async def build(uow: UnitOfWork) -> dict[str, Any]:
        return render.reply(await posts.do_create_reply(uow, api, body.comment_id, body.content, body.author))

    return await create_once(request, api, build)


@router.get("/replies/{reply_id}")
async def get_reply(request: Request, api: Caller, reply_id: Id) -> Response:
    async with container_of(request).read() as conn:
        reply = await posts.access_reply(conn, api, reply_id)
    return respond(render.reply(reply))


@router.put("/replies/{reply_id}")
async def edit_reply(request: Request, api: Caller, reply_id: Id, body: ContentBody) -> Response:
    async with unit(request) as uow:
        reply = await posts.do_edit_reply(uow, api, reply_id, body.content)
    return respond(render.reply(reply))


@router.delete("/replies/{reply_id}")
async def delete_reply(request: Request, api: Caller, reply_id: Id) -> Response:
    async with unit(request) as uow:
        await posts.do_delete_reply(uow, api, reply_id)
    return respond(OK)


# -- reactions


@router.post("/reactions")
async def add_reaction(request: Request, api: Caller, body: ReactionBody) -> Response:
    slots = len(container_of(request).settings.forum.reaction_slots)
    slot = posts.check_slot(body.slot, slots)
    async with unit(request) as uow:
        thing = await posts.do_react(uow, api, body.ref_type, body.ref_id, slot, body.user)
    return respond(_any(thing))


@router.delete("/reactions")
async def remove_reaction(request: Request, api: Caller, ref_type: Annotated[RefType, Query()],
                          ref_id: Annotated[int, Query(ge=1, le=2**62)],
                          user: Annotated[str, Query(description="msid of the user")]) -> Response:
    async with unit(request) as uow:
        thing = await posts.do_unreact(uow, api, ref_type, ref_id, user)
    return respond(_any(thing))


@router.get("/reactions/slots")
async def reaction_slots(request: Request, api: Caller) -> Response:
    icons = container_of(request).settings.forum.reaction_slots
    return respond([{"slot": f"s{i}", "icon": icon} for i, icon in enumerate(icons, 1)], has_more=False)



