"""The wire shapes of the habitate API: null fields left out, fields the caller may not see too."""

from __future__ import annotations

from typing import Any

from townhall.core.clock import iso
from townhall.core.forum.keys import KeyInfo
from townhall.core.forum.models import Board, Profile, Role, Tag
from townhall.core.forum.payloads import author, comment, drop_nulls, may_see_email, post, reply, user
from townhall.jobs.webhooks import Delivery, Subscription

__all__ = ["author", "board", "comment", "delivery", "drop_nulls", "key", "may_see_email", "post", "reply", "role",
           "subscription", "tag", "tag_item", "user", "user_item"]


def user_item(profile: Profile) -> dict[str, Any]:
    """A user in a list."""
    return {
        "user_id": profile.user_id, "sid": profile.sid, "msid": profile.msid, "username": profile.username,
        "user_avatar": profile.user_avatar, "first_name": profile.first_name, "role_id": profile.role_id,
        "user_status": profile.user_status, "created_at": iso(profile.created_at),
    }


def role(r: Role) -> dict[str, Any]:
    return {"role_id": r.role_id, "role_name": r.role_name, "role_details": r.role_details, "is_default": r.is_default}


def board(b: Board) -> dict[str, Any]:
    return {
        "board_id": b.board_id, "display_order": b.display_order, "board_name": b.board_name,
        "board_type": b.board_type, "is_private": b.is_private, "hidden_type": b.hidden_type,
        "permission_for": b.permission_for, "needs_approval": b.needs_approval, "pinned_posts": b.pinned_posts,
        "post_count": b.post_count, "last_posted_at": iso(b.last_posted_at), "icon": b.icon, "about": b.about,
    }


def tag(t: Tag) -> dict[str, Any]:
    return {
        "tag_id": t.tag_id, "name": t.name, "display_name": t.display_name, "description": t.description,
        "image": t.image, "og_image": t.og_image, "og_title": t.og_title, "og_description": t.og_description,
        "back_color": t.back_color, "text_color": t.text_color,
    }


def tag_item(t: Tag) -> dict[str, Any]:
    return {"tag_id": t.tag_id, "name": t.name, "display_name": t.display_name, "back_color": t.back_color,
            "text_color": t.text_color}


def subscription(s: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    return {
        "subscription_id": s.id, "target_url": s.target_url, "events": s.events, "status": s.status,
        "failures": s.failures, "secret": s.secret if with_secret else None, "created_by": s.created_by,
        "created_at": iso(s.created_at), "paused_at": iso(s.paused_at),
    }


def delivery(d: Delivery) -> dict[str, Any]:
    return {
        "delivery_log_id": d.id, "job_id": d.outbox_id, "event": d.event, "delivery_id": d.delivery_id,
        "attempt": d.attempt, "outcome": d.outcome, "status_code": d.status_code, "error": d.error,
        "duration_ms": d.duration_ms, "created_at": iso(d.created_at),
    }


def key(k: KeyInfo) -> dict[str, Any]:
    return {"key_id": k.id, "name": k.name, "prefix": k.prefix, "role_id": k.role_id, "msid": k.msid,
            "created_at": iso(k.created_at), "revoked_at": iso(k.revoked_at)}
