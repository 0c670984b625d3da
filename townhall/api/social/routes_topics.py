"""Social surface routes: topics (the tree, a topic, its people) and a user's own topics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social import render_clubs as render
from townhall.api.social.http import (
    SocialCaller,
    container_of,
    endpoint,
    int_param,
    offset_of,
    ok,
    page_args,
    paged,
    params,
    signed_in,
)
from townhall.api.social.render import items
from townhall.core.accounts import profiles
from townhall.core.communities import service as clubs
from townhall.core.social import topics

router = APIRouter(tags=["topics"])


def _topic_id(data: dict[str, Any]) -> int:
    return topics.check_topic_id(int_param(data, "topic_id"))


@endpoint(router, "get_all_topics")
async def get_all_topics(request: Request, caller: SocialCaller = Depends(signed_in)) -> Response:
    """Categories, each with its ``topics``."""
    async with container_of(request).read() as conn:
        tree = await topics.get_all_topics(conn)
    return ok(topics=[render.topic_tree(t) for t in tree])


@endpoint(router, "get_topic")
async def get_topic(request: Request, data: dict[str, Any] = Depends(params),
                    caller: SocialCaller = Depends(signed_in)) -> Response:
    topic_id = _topic_id(data)
    async with container_of(request).read() as conn:
        found = await topics.get_topic(conn, topic_id)
    return ok(topic=render.topic(found))


@endpoint(router, "get_users_for_topic")
async def get_users_for_topic(request: Request, data: dict[str, Any] = Depends(params),
                              caller: SocialCaller = Depends(signed_in)) -> Response:
    topic_id = _topic_id(data)
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        ids, count = await topics.get_users_for_topic(conn, topic_id, limit=size, offset=offset_of(page, size))
        found = await profiles.get_profiles(conn, ids)
    return ok(users=items(ids, found), **paged(ids, count, page, size))


@endpoint(router, "add_user_topic")
async def add_user_topic(request: Request, data: dict[str, Any] = Depends(params),
                         caller: SocialCaller = Depends(signed_in)) -> Response:
    """Pick a topic (``topic_id``); with ``club_id`` instead, a club admin tags the club."""
    club_id = int_param(data, "club_id", required=False)
    topic_id = _topic_id(data)
    async with container_of(request).uow() as uow:
        if club_id is not None:
            await clubs.do_add_club_topic(uow, caller.user_id, clubs.check_id(club_id), topic_id)
        else:
            await topics.do_add_user_topic(uow, caller.user_id, topic_id)
    return ok()


@endpoint(router, "remove_user_topic")
async def remove_user_topic(request: Request, data: dict[str, Any] = Depends(params),
                            caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id = int_param(data, "club_id", required=False)
    topic_id = _topic_id(data)
    async with container_of(request).uow() as uow:
        if club_id is not None:
            await clubs.do_remove_club_topic(uow, caller.user_id, clubs.check_id(club_id), topic_id)
        else:
            await topics.do_remove_user_topic(uow, caller.user_id, topic_id)
    return ok()
