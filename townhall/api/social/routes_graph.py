"""The follow graph, blocks, suggestions, online friends and user search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social.http import (
    SocialCaller,
    SocialError,
    bool_param,
    container_of,
    endpoint,
    int_param,
    list_param,
    offset_of,
    ok,
    page_args,
    paged,
    params,
    signed_in,
    str_param,
    user_id_param,
)
from townhall.api.social.render import items
from townhall.api.social.render_clubs import club_item
from townhall.api.social.routes_accounts import contacts_of_request
from townhall.core.accounts import profiles
from townhall.core.communities import service as communities
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.social import graph, search, suggestions

router = APIRouter(tags=["graph"])
MAX_CLUBS = 200


def _user(data: dict[str, Any]) -> int:
    user_id = user_id_param(data)
    assert user_id is not None
    return user_id


def _require_admitted(caller: SocialCaller) -> None:
    """The core's waitlist rule; the seed answers a waitlisted account's follows with a 401."""
    try:
        profiles.check_admitted_status(caller.waitlisted)
    except Forbidden as exc:
        raise SocialError(exc.message, 401) from exc


@endpoint(router, "follow", example={"user_id": 1234, "source": 4})
async def follow(request: Request, data: dict[str, Any] = Depends(params),
                 caller: SocialCaller = Depends(signed_in)) -> Response:
    _require_admitted(caller)
    user_id = _user(data)
    async with container_of(request).uow() as uow:
        await graph.do_follow(uow, caller.user_id, user_id)
    return ok()


@endpoint(router, "follow_multiple", example={"user_ids": [1234, 5678], "source": 7})
async def follow_multiple(request: Request, data: dict[str, Any] = Depends(params),
                          caller: SocialCaller = Depends(signed_in)) -> Response:
    _require_admitted(caller)
    raw = list_param(data, "user_ids")
    ids = [user_id_param({"user_id": v}) for v in raw]
    async with container_of(request).uow() as uow:
        await graph.do_follow_multiple(uow, caller.user_id, [i for i in ids if i is not None])
    return ok()


@endpoint(router, "unfollow", example={"user_id": 1234})
async def unfollow(request: Request, data: dict[str, Any] = Depends(params),
                   caller: SocialCaller = Depends(signed_in)) -> Response:
    user_id = _user(data)
    async with container_of(request).uow() as uow:
        await graph.do_unfollow(uow, caller.user_id, user_id)
    return ok()


@endpoint(router, "block", example={"user_id": 1234})
async def block(request: Request, data: dict[str, Any] = Depends(params),
                caller: SocialCaller = Depends(signed_in)) -> Response:
    user_id = _user(data)
    async with container_of(request).uow() as uow:
        await graph.do_block(uow, caller.user_id, user_id)
    return ok()


@endpoint(router, "unblock", example={"user_id": 1234})
async def unblock(request: Request, data: dict[str, Any] = Depends(params),
                  caller: SocialCaller = Depends(signed_in)) -> Response:
    user_id = _user(data)
    async with container_of(request).uow() as uow:
        await graph.do_unblock(uow, caller.user_id, user_id)
    return ok()


@endpoint(router, "update_follow_notifications", example={"user_id": 1234, "notification_type": 1})
async def update_follow_notifications(request: Request, data: dict[str, Any] = Depends(params),
                                      caller: SocialCaller = Depends(signed_in)) -> Response:
    user_id = _user(data)
    kind = int_param(data, "notification_type")
    assert kind is not None
    async with container_of(request).uow() as uow:
        await graph.do_update_follow_notifications(uow, caller.user_id, user_id, kind)
    return ok()


async def _visible(request: Request, caller: SocialCaller, user_id: int) -> None:
    """A user who blocked the caller is, to the caller, no one."""
    async with container_of(request).read() as conn:
        await profiles.access_profile(conn, user_id)
        relation = (await graph.relations(conn, caller.user_id, [user_id]))[user_id]
    if relation.blocked_me and user_id != caller.user_id:
        raise NotFound("user_not_found", "That user does not exist.")


async def _user_list(request: Request, data: dict[str, Any], caller: SocialCaller, fetch: Any,
                     *, with_clubs: bool = False) -> Response:
    user_id = user_id_param(data, required=False) or caller.user_id
    await _visible(request, caller, user_id)
    page, size = page_args(data)
    extra: dict[str, Any] = {}
    async with container_of(request).read() as conn:
        ids, count = await fetch(conn, user_id, limit=size, offset=offset_of(page, size))
        found = await profiles.get_profiles(conn, ids)
        if with_clubs:  # the clubs they follow come along on the first page
            clubs, _ = (await communities.followed_clubs(conn, user_id, limit=MAX_CLUBS, offset=0)
                        if page == 1 else ([], 0))
            mine = await communities.relations(conn, [c.id for c in clubs], caller.user_id)
            extra["clubs"] = [club_item(c, mine.get(c.id)) for c in clubs]
    return ok(users=items(ids, found), **extra, **paged(ids, count, page, size))


@endpoint(router, "get_following", example={"user_id": 1234, "page_size": 50, "page": 1})
async def get_following(request: Request, data: dict[str, Any] = Depends(params),
                        caller: SocialCaller = Depends(signed_in)) -> Response:
    """Whom ``user_id`` (default: you) follows; ``clubs`` they follow come with the first page."""
    return await _user_list(request, data, caller, graph.following, with_clubs=True)


@endpoint(router, "get_followers", example={"user_id": 1234, "page_size": 50, "page": 1})
async def get_followers(request: Request, data: dict[str, Any] = Depends(params),
                        caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _user_list(request, data, caller, graph.followers)


@endpoint(router, "get_mutual_follows", example={"user_id": 1234, "page_size": 50, "page": 1})
async def get_mutual_follows(request: Request, data: dict[str, Any] = Depends(params),
                             caller: SocialCaller = Depends(signed_in)) -> Response:
    """People you follow who follow ``user_id``."""

    async def fetch(conn: Any, user_id: int, *, limit: int, offset: int) -> tuple[list[int], int]:
        return await graph.mutual_follows(conn, caller.user_id, user_id, limit=limit, offset=offset)

    return await _user_list(request, data, caller, fetch)


@endpoint(router, "get_suggested_follows_all", example={"in_onboarding": True, "page_size": 50, "page": 1})
async def get_suggested_follows_all(request: Request, data: dict[str, Any] = Depends(params),
                                    caller: SocialCaller = Depends(signed_in)) -> Response:
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        ids, count = await suggestions.suggested_all(conn, caller.user_id, limit=size, offset=offset_of(page, size))
        found = await profiles.get_profiles(conn, ids)
    return ok(users=items(ids, found), **paged(ids, count, page, size))


@endpoint(router, "get_suggested_follows_friends_only",
          example={"club_id": None, "upload_contacts": True, "contacts": []})
async def get_suggested_follows_friends_only(request: Request, data: dict[str, Any] = Depends(params),
                                             caller: SocialCaller = Depends(signed_in)) -> Response:
    """People here from your contacts (``contacts`` in the request are uploaded first)."""
    given = await contacts_of_request(request, caller, data)
    container = container_of(request)
    async with container.read() as conn:
        ids = await suggestions.suggested_friends(conn, caller.user_id, given=list(given))
        found = await profiles.get_profiles(conn, ids)
    return ok(users=items(ids, found))


@endpoint(router, "get_suggested_follows_similar", example={"user_id": 1234})
async def get_suggested_follows_similar(request: Request, data: dict[str, Any] = Depends(params),
                                        caller: SocialCaller = Depends(signed_in)) -> Response:
    """People like ``user_id`` (or ``username``)."""
    user_id = user_id_param(data, required=False)
    container = container_of(request)
    async with container.read() as conn:
        if user_id is None:
            username = str_param(data, "username", max_length=64)
            user_id = await profiles.user_id_by_username(conn, username) if username else None
        if user_id is None:
            raise Invalid("missing_field", "user_id is required.")
        await profiles.access_profile(conn, user_id)
        ids = await suggestions.suggested_similar(conn, caller.user_id, user_id)
        found = await profiles.get_profiles(conn, ids)
    return ok(users=items(ids, found))


@endpoint(router, "ignore_suggested_follow", example={"user_id": 1234})
async def ignore_suggested_follow(request: Request, data: dict[str, Any] = Depends(params),
                                  caller: SocialCaller = Depends(signed_in)) -> Response:
    user_id = _user(data)
    async with container_of(request).uow() as uow:
        await profiles.access_profile(uow.conn, user_id)
        await suggestions.do_ignore(uow, caller.user_id, user_id)
    return ok()


# clubhouse-py's ignore_suggested_follow posts {"user_id"} to /user_id (a typo of the client).
router.add_api_route("/user_id", ignore_suggested_follow, methods=["POST"], include_in_schema=False)


@endpoint(router, "get_online_friends")
async def get_online_friends(request: Request, caller: SocialCaller = Depends(signed_in)) -> Response:
    """People you follow who were active in the last few minutes (``last_active_minutes``)."""
    from datetime import timedelta

    from townhall.core.clock import now

    container = container_of(request)
    window = container.settings.social.online_window
    async with container.read() as conn:
        ids, _ = await graph.following(conn, caller.user_id, limit=1000, offset=0)
        found = await profiles.get_profiles(conn, ids)
        from townhall.core.rooms.service import rooms_of_users

        in_rooms = await rooms_of_users(conn, caller.user_id, ids)  # the room each friend is in
    cutoff = now() - timedelta(seconds=window)
    online = [p for p in found.values() if p.last_active is not None and p.last_active >= cutoff]
    online.sort(key=lambda p: p.last_active, reverse=True)  # type: ignore[arg-type, return-value]
    stamp = now()
    users = [{**items([p.user_id], found)[0], "last_active_minutes": int((stamp - p.last_active).total_seconds() // 60),
              "online": True, "channel": in_rooms[p.user_id].code if p.user_id in in_rooms else None,
              "topic": in_rooms[p.user_id].topic if p.user_id in in_rooms else None}
             for p in online if p.last_active is not None]
    return ok(users=users, clubs=[])


@endpoint(router, "search_users",
          example={"query": "johnsmith", "following_only": False, "followers_only": False, "cofollows_only": False})
async def search_users(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(signed_in)) -> Response:
    query = str_param(data, "query", max_length=search.MAX_QUERY) or ""
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        ids, count = await search.search_users(
            conn, caller.user_id, query, following_only=bool_param(data, "following_only"),
            followers_only=bool_param(data, "followers_only"), cofollows_only=bool_param(data, "cofollows_only"),
            limit=size, offset=offset_of(page, size))
        found = await profiles.get_profiles(conn, ids)
    return ok(users=items(ids, found), **paged(ids, count, page, size))
