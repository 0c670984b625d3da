"""The forum's things as JSON: the wire shapes of the habitate API that webhooks carry too.

They live in the core so that every unit of work (HTTP request, CLI, demo, job) can write a
forum event's webhook payload to the outbox in its own transaction (DESIGN rule 5); the forum
surface renders its answers with them. Null fields are left out, and fields the caller may not see.
"""

from __future__ import annotations

from typing import Any

from townhall.core.clock import iso
from townhall.core.forum.models import ApiUser, Comment, Post, Profile, Reply


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def may_see_email(api: ApiUser | None, profile: Profile) -> bool:
    """Emails are for moderators (and webhooks, ``api=None``), and for the API user's own profile."""
    return api is None or api.is_moderator or api.user_id == profile.user_id


def user(profile: Profile, api: ApiUser | None) -> dict[str, Any]:
    return {
        "user_id": profile.user_id, "sid": profile.sid, "msid": profile.msid, "username": profile.username,
        "user_avatar": profile.user_avatar, "first_name": profile.first_name, "middle_name": profile.middle_name,
        "last_name": profile.last_name, "email": profile.email if may_see_email(api, profile) else None,
        "role_id": profile.role_id, "is_bot": profile.is_bot, "user_status": profile.user_status,
        "lang": profile.lang, "timezone": profile.timezone, "user_description": profile.user_description,
        "banner": profile.banner, "social_media_links": profile.social_media_links, "meta": profile.meta,
        "login_count": profile.login_count, "post_count": profile.post_count,
        "comment_count": profile.comment_count, "reply_count": profile.reply_count,
        "created_at": iso(profile.created_at), "last_modified_at": iso(profile.last_modified_at),
    }


def author(profile: Profile) -> dict[str, Any]:
    return {"user_id": profile.user_id, "user_avatar": profile.user_avatar, "username": profile.username,
            "msid": profile.msid}


def post(p: Post) -> dict[str, Any]:
    return {
        "post_id": p.post_id, "board_id": p.board_id, "headline": p.headline, "post_short_text": p.post_short_text,
        "content": p.content, "clean_text": p.clean_text, "post_status": p.post_status,
        "comment_count": p.comment_count, "reply_count": p.reply_count, "react_count": p.react_count,
        "reactions": p.reactions or None, "view_count": p.view_count, "last_edited_at": iso(p.last_edited_at),
        "created_at": iso(p.created_at), "last_modified_at": iso(p.last_modified_at), "user": author(p.author),
    }


def comment(c: Comment) -> dict[str, Any]:
    return {
        "post_id": c.post_id, "comment_id": c.comment_id, "content": c.content, "clean_text": c.clean_text,
        "react_count": c.react_count, "reply_count": c.reply_count, "reactions": c.reactions or None,
        "comment_status": c.comment_status, "state": c.state, "last_edited_at": iso(c.last_edited_at),
        "created_at": iso(c.created_at), "last_modified_at": iso(c.last_modified_at), "user": author(c.author),
    }


def reply(r: Reply) -> dict[str, Any]:
    return {
        "post_id": r.post_id, "comment_id": r.comment_id, "reply_id": r.reply_id, "content": r.content,
        "clean_text": r.clean_text, "react_count": r.react_count, "reactions": r.reactions or None,
        "status": r.status, "state": r.state, "last_edited_at": iso(r.last_edited_at),
        "created_at": iso(r.created_at), "last_modified_at": iso(r.last_modified_at), "user": author(r.author),
    }
