"""Profiles: get_profile and the update_* endpoints."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.social.http import (
    SocialCaller,
    SocialError,
    container_of,
    endpoint,
    int_param,
    ok,
    params,
    read_body,
    signed_in,
    str_param,
)
from townhall.api.social.media import remove_photo, store_photo
from townhall.api.social.render import user_profile
from townhall.api.social.render_clubs import club_full
from townhall.api.social.render_clubs import topic as render_topic
from townhall.core.accounts import profiles
from townhall.core.communities import service as communities
from townhall.core.errors import Invalid, NotFound
from townhall.core.social import graph
from townhall.core.social import topics as topics_domain

log = logging.getLogger(__name__)
router = APIRouter(tags=["profiles"])
MUTUALS_ON_PROFILE = 3


async def _target(request: Request, data: dict[str, Any], caller: SocialCaller) -> int:
    """The user a request names: ``user_id``, else ``username``, else the caller."""
    user_id = int_param(data, "user_id", required=False)
    if user_id is not None:
        return user_id
    username = str_param(data, "username", max_length=64)
    if username:
        async with container_of(request).read() as conn:
            found = await profiles.user_id_by_username(conn, username)
        if found is None:
            raise NotFound("user_not_found", "That user does not exist.")
        return found
    return caller.user_id


@endpoint(router, "get_profile", example={"user_id": 1234})
async def get_profile(request: Request, data: dict[str, Any] = Depends(params),
                      caller: SocialCaller = Depends(signed_in)) -> Response:
    user_id = await _target(request, data, caller)
    async with container_of(request).read() as conn:
        p = await profiles.access_profile(conn, user_id)
        relation = (await graph.relations(conn, caller.user_id, [user_id])).get(user_id)
        if relation and relation.blocked_me:
            raise NotFound("user_not_found", "That user does not exist.")
        counts = await graph.counts(conn, user_id)
        mutual_ids, mutual_count = await graph.mutual_follows(conn, caller.user_id, user_id,
                                                               limit=MUTUALS_ON_PROFILE, offset=0)
        related = await profiles.get_profiles(conn, [*mutual_ids, *([p.invited_by] if p.invited_by else [])])
        clubs = await communities.clubs_of_user(conn, user_id)
        topics = await topics_domain.topics_of_user(conn, user_id)
    own = user_id == caller.user_id
    inviter = related.get(p.invited_by) if p.invited_by else None
    return ok(user_profile={
        "user_id": p.user_id, "name": p.name, "displayname": p.displayname, "photo_url": p.photo_url,
        "username": p.username, "bio": p.bio, "twitter": p.twitter, "instagram": p.instagram,
        "num_followers": counts.followers, "num_following": counts.following,
        "time_created": p.created_at, "follows_me": bool(relation and relation.follows_me),
        "is_followed_by_me": bool(relation and relation.i_follow),
        "is_blocked_by_me": bool(relation and relation.i_blocked),
        "is_blocked_by_network": False,
        "mutual_follows_count": mutual_count,
        "mutual_follows": [user_profile(related[i]) for i in mutual_ids if i in related],
        "notification_type": relation.notification_type if relation else None,
        "invited_by_user_profile": user_profile(inviter) if inviter else None,
        "invited_by_club": None,
        "clubs": [club_full(c) for c in clubs], "topics": [render_topic(t) for t in topics],
        "skintone": p.skintone, "has_verified_email": bool(own and p.email),
        "can_edit_username": own, "can_edit_name": own, "can_edit_displayname": own,
    })


@endpoint(router, "update_name", example={"name": "John Smith"})
async def update_name(request: Request, data: dict[str, Any] = Depends(params),
                      caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).uow() as uow:
        await profiles.do_update_name(uow, caller.user_id, data.get("name"))
    return ok(error_message=None)


@endpoint(router, "update_username", example={"username": "johnsmith"})
async def update_username(request: Request, data: dict[str, Any] = Depends(params),
                          caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).uow() as uow:
        await profiles.do_update_username(uow, caller.user_id, data.get("username"))
    return ok(error_message=None)


async def _update(request: Request, caller: SocialCaller, **fields: Any) -> Response:
    async with container_of(request).uow() as uow:
        await profiles.do_update_profile(uow, caller.user_id, **fields)
    return ok(error_message=None)


@endpoint(router, "update_displayname", example={"displayname": "Johnny"})
async def update_displayname(request: Request, data: dict[str, Any] = Depends(params),
                             caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, caller, displayname=data.get("displayname", data.get("name")))


@endpoint(router, "update_bio", example={"bio": "Hello!"})
async def update_bio(request: Request, data: dict[str, Any] = Depends(params),
                     caller: SocialCaller = Depends(signed_in)) -> Response:
    if "bio" not in data:
        raise Invalid("missing_field", "bio is required.")
    return await _update(request, caller, bio=data.get("bio"))


@endpoint(router, "update_skintone", example={"skintone": 3})
async def update_skintone(request: Request, data: dict[str, Any] = Depends(params),
                          caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, caller, skintone=data.get("skintone"))


@endpoint(router, "update_twitter_username", example={"username": "johnsmith"})
async def update_twitter_username(request: Request, data: dict[str, Any] = Depends(params),
                                  caller: SocialCaller = Depends(signed_in)) -> Response:
    """Link a Twitter username (townhall cannot check it with Twitter: it is shown as given);
    an empty one unlinks."""
    return await _update(request, caller, twitter=data.get("username", data.get("twitter")) or None)


@endpoint(router, "update_instagram_username", example={"username": "johnsmith"})
async def update_instagram_username(request: Request, data: dict[str, Any] = Depends(params),
                                    caller: SocialCaller = Depends(signed_in)) -> Response:
    """Link an Instagram username; the Instagram OAuth ``code`` flow is not available here."""
    username = data.get("username", data.get("instagram"))
    if username is None and data.get("code"):
        raise Invalid("not_available", "Linking with Instagram is not available on this server; "
                                       "send the username instead.")
    return await _update(request, caller, instagram=username or None)


@endpoint(router, "add_email", example={"email": "john@example.org"})
async def add_email(request: Request, data: dict[str, Any] = Depends(params),
                    caller: SocialCaller = Depends(signed_in)) -> Response:
    return await _update(request, caller, email=data.get("email"))


@endpoint(router, "update_photo")
async def update_photo(request: Request, caller: SocialCaller = Depends(signed_in)) -> Response:
    """Multipart field ``file``: an image (JPEG, PNG, ...), at most ``max_photo_bytes``."""
    container = container_of(request)
    limit = container.settings.social.max_photo_bytes
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith("multipart/form-data"):
        raise SocialError("Send the photo as multipart/form-data with a field named file.")
    await read_body(request, limit + 64_000)  # refuses oversized uploads before parsing them
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as exc:  # malformed multipart
        raise SocialError("The upload could not be read.") from exc
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise SocialError("Send the photo in a field named file.")
    raw = await upload.read(limit + 1)
    if len(raw) > limit:
        raise SocialError(f"That photo is larger than {limit // 1_000_000} MB.", 413)
    directory = request.app.state.photo_dir
    name = await asyncio.to_thread(store_photo, directory, caller.user_id, raw)  # decoding takes a while
    url = f"{container.settings.base_url()}/social/photos/{name}"
    try:
        async with container.uow() as uow:
            old = (await profiles.access_profile(uow.conn, caller.user_id)).photo_url
            await profiles.do_update_photo(uow, caller.user_id, url)
    except BaseException:
        remove_photo(directory, caller.user_id, name)
        raise
    if old and "/social/photos/" in old:
        remove_photo(directory, caller.user_id, old.rsplit("/", 1)[-1])
    return ok(photo_url=url)
