"""Social surface routes: clubs (create, read, follow, members, invites, nominations, settings,
topics, search). Routes parse, call townhall.core.communities and render; the rules are there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social import render_clubs as render
from townhall.api.social.http import (
    SocialCaller,
    admitted,
    bool_param,
    container_of,
    endpoint,
    int_param,
    offset_of,
    ok,
    page_args,
    paged,
    params,
    signed_in,
    str_param,
)
from townhall.api.social.render import user_item, user_profile
from townhall.api.social.routes_accounts import contacts_of_request
from townhall.core.accounts import profiles
from townhall.core.communities import service as clubs
from townhall.core.communities.models import Club
from townhall.core.social.topics import check_topic_id
from townhall.db.database import Connection

router = APIRouter(tags=["clubs"])


def _id(data: dict[str, Any], name: str) -> int:
    return clubs.check_id(int_param(data, name), name)


async def _items(conn: Connection, user_id: int, found: list[Club], **extra: Any) -> list[dict[str, Any]]:
    rels = await clubs.relations(conn, [c.id for c in found], user_id)
    out = []
    for club in found:
        item = render.club_item(club, rels[club.id])
        if extra.get("with_admin"):
            item["is_admin"] = rels[club.id].is_admin
        out.append(item)
    return out


async def _club_answer(conn: Connection, user_id: int, club_id: int) -> dict[str, Any]:
    """get_club's answer: the club, the caller's standing in it, its topics, a few members."""
    club = await clubs.access_club(conn, club_id)
    rel = await clubs.relation(conn, club_id, user_id)
    topics = await clubs.topics_of_club(conn, club_id)
    visible = not club.is_membership_private or rel.is_member
    member_ids = await clubs.member_ids(conn, club_id) if visible else []
    added_by = (await profiles.get_profiles(conn, [rel.invited_by_id])).get(rel.invited_by_id) \
        if rel.invited_by_id else None
    return {
        "club": render.club_detail(club, rel),
        "added_by_user_profile": user_profile(added_by) if added_by else None,
        "invite_link": None,
        "is_admin": rel.is_admin, "is_member": rel.is_member, "is_follower": rel.is_follower,
        "is_pending_accept": rel.is_pending_accept, "is_pending_approval": rel.is_pending_approval,
        "member_user_ids": member_ids, "num_invites": 0,
        "topics": [render.topic(t) for t in topics],
    }


@endpoint(router, "create_club")
async def create_club(request: Request, data: dict[str, Any] = Depends(params),
                      caller: SocialCaller = Depends(admitted)) -> Response:
    """``{name, description, rules?, topic_ids?, is_follow_allowed?, is_membership_private?,
    is_community?}`` → the club as get_club answers it; the caller is its admin."""
    topic_ids = data.get("topic_ids") or []
    if not isinstance(topic_ids, list):
        topic_ids = [topic_ids]
    container = container_of(request)
    async with container.uow() as uow:
        club = await clubs.do_create_club(
            uow, caller.user_id, name=data.get("name"), description=data.get("description"),
            rules=data.get("rules"), topic_ids=[check_topic_id(t) for t in topic_ids],
            is_follow_allowed=bool_param(data, "is_follow_allowed", True),
            is_membership_private=bool_param(data, "is_membership_private", False),
            is_community=bool_param(data, "is_community", False))
    async with container.read() as conn:
        answer = await _club_answer(conn, caller.user_id, club.id)
    return ok(club_id=club.id, **answer)


@endpoint(router, "get_club")
async def get_club(request: Request, data: dict[str, Any] = Depends(params),
                   caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id = _id(data, "club_id")
    async with container_of(request).read() as conn:
        return ok(**await _club_answer(conn, caller.user_id, club_id))


@endpoint(router, "get_club_members")
async def get_club_members(request: Request, data: dict[str, Any] = Depends(params),
                           caller: SocialCaller = Depends(signed_in)) -> Response:
    """Members (admins first) and, with ``return_followers``, followers; paginated."""
    club_id = _id(data, "club_id")
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await clubs.club_members(
            conn, caller.user_id, club_id, return_members=bool_param(data, "return_members", True),
            return_followers=bool_param(data, "return_followers", False), limit=size, offset=offset_of(page, size))
        people = await profiles.get_profiles(conn, [m.user_id for m in found])
    users = [render.member_item(m, people[m.user_id]) for m in found if m.user_id in people]
    return ok(users=users, **paged(found, count, page, size))


@endpoint(router, "get_clubs")
async def get_clubs(request: Request, data: dict[str, Any] = Depends(params),
                    caller: SocialCaller = Depends(signed_in)) -> Response:
    """Your clubs; ``is_startable_only``: those you may start rooms for (you are an admin)."""
    async with container_of(request).read() as conn:
        found = await clubs.clubs_for_user(conn, caller.user_id,
                                           admin_only=bool_param(data, "is_startable_only", False))
        return ok(clubs=await _items(conn, caller.user_id, found, with_admin=True))


@endpoint(router, "get_clubs_for_topic")
async def get_clubs_for_topic(request: Request, data: dict[str, Any] = Depends(params),
                              caller: SocialCaller = Depends(signed_in)) -> Response:
    topic_id = check_topic_id(int_param(data, "topic_id"))
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await clubs.clubs_for_topic(conn, topic_id, limit=size, offset=offset_of(page, size))
        items = await _items(conn, caller.user_id, found)
    return ok(clubs=items, **paged(found, count, page, size))


@endpoint(router, "search_clubs")
async def search_clubs(request: Request, data: dict[str, Any] = Depends(params),
                       caller: SocialCaller = Depends(signed_in)) -> Response:
    """Clubs whose name or description holds every word of ``query``; paginated."""
    query = str_param(data, "query", max_length=clubs.MAX_SEARCH_QUERY) or ""
    page, size = page_args(data)
    async with container_of(request).read() as conn:
        found, count = await clubs.search_clubs(
            conn, caller.user_id, query, following_only=bool_param(data, "following_only"),
            followers_only=bool_param(data, "followers_only"), cofollows_only=bool_param(data, "cofollows_only"),
            limit=size, offset=offset_of(page, size))
        items = await _items(conn, caller.user_id, found)
    return ok(clubs=items, **paged(found, count, page, size))


@endpoint(router, "follow_club")
async def follow_club(request: Request, data: dict[str, Any] = Depends(params),
                      caller: SocialCaller = Depends(admitted)) -> Response:
    club_id = _id(data, "club_id")
    async with container_of(request).uow() as uow:
        await clubs.do_follow_club(uow, caller.user_id, club_id)
    return ok()


@endpoint(router, "unfollow_club")
async def unfollow_club(request: Request, data: dict[str, Any] = Depends(params),
                        caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id = _id(data, "club_id")
    async with container_of(request).uow() as uow:
        await clubs.do_unfollow_club(uow, caller.user_id, club_id)
    return ok()


@endpoint(router, "add_club_member")
async def add_club_member(request: Request, data: dict[str, Any] = Depends(params),
                          caller: SocialCaller = Depends(admitted)) -> Response:
    """An admin invites ``user_id``; a member nominates them for an admin to approve."""
    club_id, user_id = _id(data, "club_id"), _id(data, "user_id")
    message = str_param(data, "message", max_length=1000)
    async with container_of(request).uow() as uow:
        rel = await clubs.do_add_member(uow, caller.user_id, club_id, user_id, message=message)
    return ok(is_member=rel.is_member, is_pending_accept=rel.is_pending_accept,
              is_pending_approval=rel.is_pending_approval)


@endpoint(router, "remove_club_member")
async def remove_club_member(request: Request, data: dict[str, Any] = Depends(params),
                             caller: SocialCaller = Depends(signed_in)) -> Response:
    """An admin removes a member (or withdraws an invite); anyone may remove themself (leave)."""
    club_id = _id(data, "club_id")
    user_id = clubs.check_id(int_param(data, "user_id", required=False, default=caller.user_id), "user_id")
    async with container_of(request).uow() as uow:
        await clubs.do_remove_member(uow, caller.user_id, club_id, user_id)
    return ok()


@endpoint(router, "leave_club")
async def leave_club(request: Request, data: dict[str, Any] = Depends(params),
                     caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id = _id(data, "club_id")
    async with container_of(request).uow() as uow:
        await clubs.do_remove_member(uow, caller.user_id, club_id, caller.user_id)
    return ok()


@endpoint(router, "accept_club_member_invite")
async def accept_club_member_invite(request: Request, data: dict[str, Any] = Depends(params),
                                    caller: SocialCaller = Depends(admitted)) -> Response:
    club_id = _id(data, "club_id")
    container = container_of(request)
    async with container.uow() as uow:
        await clubs.do_accept_invite(uow, caller.user_id, club_id)
    async with container.read() as conn:
        return ok(**await _club_answer(conn, caller.user_id, club_id))


@endpoint(router, "add_club_admin")
async def add_club_admin(request: Request, data: dict[str, Any] = Depends(params),
                         caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id, user_id = _id(data, "club_id"), _id(data, "user_id")
    async with container_of(request).uow() as uow:
        await clubs.do_add_admin(uow, caller.user_id, club_id, user_id)
    return ok()


@endpoint(router, "remove_club_admin")
async def remove_club_admin(request: Request, data: dict[str, Any] = Depends(params),
                            caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id, user_id = _id(data, "club_id"), _id(data, "user_id")
    async with container_of(request).uow() as uow:
        await clubs.do_remove_admin(uow, caller.user_id, club_id, user_id)
    return ok()


@endpoint(router, "get_club_nominations")
async def get_club_nominations(request: Request, data: dict[str, Any] = Depends(params),
                               caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id = _id(data, "club_id")
    async with container_of(request).read() as conn:
        found = await clubs.get_nominations(conn, caller.user_id, club_id)
        people = await profiles.get_profiles(
            conn, [n.user_id for n in found] + [n.nominated_by_id for n in found if n.nominated_by_id])
    return ok(nominations=[{
        "invite_nomination_id": n.id,
        "user_profile": user_item(people[n.user_id]) if n.user_id in people else None,
        "nominated_by_user_profile": user_profile(people[n.nominated_by_id])
        if n.nominated_by_id in people else None,
        "message": n.message, "time_created": render.time_text(n.created_at),
    } for n in found])


@endpoint(router, "approve_club_nomination")
async def approve_club_nomination(request: Request, data: dict[str, Any] = Depends(params),
                                  caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id, nomination_id = _id(data, "club_id"), _id(data, "invite_nomination_id")
    async with container_of(request).uow() as uow:
        await clubs.do_approve_nomination(uow, caller.user_id, club_id, nomination_id)
    return ok()


@endpoint(router, "reject_club_nomination")
async def reject_club_nomination(request: Request, data: dict[str, Any] = Depends(params),
                                 caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id, nomination_id = _id(data, "club_id"), _id(data, "invite_nomination_id")
    async with container_of(request).uow() as uow:
        await clubs.do_reject_nomination(uow, caller.user_id, club_id, nomination_id)
    return ok()


async def _update(request: Request, data: dict[str, Any], caller: SocialCaller, **changes: Any) -> Response:
    club_id = _id(data, "club_id")
    async with container_of(request).uow() as uow:
        club = await clubs.do_update_club(uow, caller.user_id, club_id, **changes)
    return ok(club=render.club_full(club))


@endpoint(router, "update_club_description")
async def update_club_description(request: Request, data: dict[str, Any] = Depends(params),
                                  caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, data, caller, description=data.get("description"))


@endpoint(router, "update_club_rules")
async def update_club_rules(request: Request, data: dict[str, Any] = Depends(params),
                            caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, data, caller, rules=data.get("rules"))


@endpoint(router, "update_is_follow_allowed")
async def update_is_follow_allowed(request: Request, data: dict[str, Any] = Depends(params),
                                   caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, data, caller, is_follow_allowed=bool_param(data, "is_follow_allowed", True))


@endpoint(router, "update_is_membership_private")
async def update_is_membership_private(request: Request, data: dict[str, Any] = Depends(params),
                                       caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, data, caller,
                         is_membership_private=bool_param(data, "is_membership_private", False))


@endpoint(router, "update_is_community")
async def update_is_community(request: Request, data: dict[str, Any] = Depends(params),
                              caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, data, caller, is_community=bool_param(data, "is_community", False))


@endpoint(router, "add_club_topic")
async def add_club_topic(request: Request, data: dict[str, Any] = Depends(params),
                         caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id, topic_id = _id(data, "club_id"), check_topic_id(int_param(data, "topic_id"))
    async with container_of(request).uow() as uow:
        await clubs.do_add_club_topic(uow, caller.user_id, club_id, topic_id)
    return ok()


@endpoint(router, "remove_club_topic")
async def remove_club_topic(request: Request, data: dict[str, Any] = Depends(params),
                            caller: SocialCaller = Depends(signed_in)) -> Response:
    club_id, topic_id = _id(data, "club_id"), check_topic_id(int_param(data, "topic_id"))
    async with container_of(request).uow() as uow:
        await clubs.do_remove_club_topic(uow, caller.user_id, club_id, topic_id)
    return ok()


@endpoint(router, "get_suggested_club_invites")
async def get_suggested_club_invites(request: Request, data: dict[str, Any] = Depends(params),
                                     caller: SocialCaller = Depends(signed_in)) -> Response:
    """People of your contacts (uploaded now with ``contacts``, or before) who are here, to bring
    into a club (``club_id``: leaving out its members)."""
    club_id = int_param(data, "club_id", required=False)
    await contacts_of_request(request, caller, data)  # only kept contacts are matched to people here
    async with container_of(request).read() as conn:
        if club_id is not None:
            await clubs.access_club(conn, clubs.check_id(club_id))
        found = await clubs.suggested_club_invites(conn, caller.user_id, club_id=club_id)
        people = await profiles.get_profiles(conn, [f[0] for f in found])
    return ok(suggested_invites=[
        {"user_profile": user_item(people[uid]), "phone_number": phone, "name": name, "in_app": True}
        for uid, phone, name in found if uid in people])
