"""Core snapshots -> Stream Chat JSON. The only place that knows Stream's field names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from townhall.core.accounts.models import User
from townhall.core.chat.models import (
    Channel,
    ChannelState,
    ChannelType,
    HistoryEntry,
    Member,
    MessageView,
    Reaction,
    Users,
)
from townhall.core.chat.permissions import default_grants
from townhall.core.clock import iso

Online = Callable[[int], bool]


def _never(_: int) -> bool:
    return False


def user(u: User | None, online: Online = _never) -> dict[str, Any] | None:
    if u is None:
        return None
    out: dict[str, Any] = {
        **u.custom,
        "id": u.chat_id,
        "role": u.role,
        "created_at": iso(u.created_at),
        "updated_at": iso(u.updated_at),
        "banned": u.banned,
        "online": False if u.invisible else online(u.id),
    }
    if u.name is not None:
        out["name"] = u.name
    if u.image is not None:
        out["image"] = u.image
    if u.language is not None:
        out["language"] = u.language
    if u.invisible:
        out["invisible"] = True
    if u.last_active is not None:
        out["last_active"] = iso(u.last_active)
    if u.deactivated_at is not None:
        out["deactivated_at"] = iso(u.deactivated_at)
    if u.deleted_at is not None:
        out["deleted_at"] = iso(u.deleted_at)
    return out


def channel_type(t: ChannelType, *, full: bool = False) -> dict[str, Any]:
    """A channel type's config; ``full`` adds its permissions and grants (GET /channeltypes)."""
    out = {**t.config, "name": t.name, "created_at": iso(t.created_at), "updated_at": iso(t.updated_at)}
    if full:
        out.setdefault("permissions", [])
        out.setdefault("grants", default_grants(t.name))
    return out


def channel(c: Channel, t: ChannelType | None, users: Users, online: Online = _never) -> dict[str, Any]:
    out: dict[str, Any] = {
        **c.custom,
        "id": c.id, "type": c.type, "cid": c.cid,
        "created_at": iso(c.created_at), "updated_at": iso(c.updated_at),
        "created_by": user(users.get(c.created_by_id), online),
        "frozen": c.frozen, "disabled": c.disabled, "member_count": c.member_count,
    }
    if c.last_message_at is not None:
        out["last_message_at"] = iso(c.last_message_at)
    if c.truncated_at is not None:
        out["truncated_at"] = iso(c.truncated_at)
    if c.deleted_at is not None:
        out["deleted_at"] = iso(c.deleted_at)
    if t is not None:
        out["config"] = channel_type(t)
    return out


def member(m: Member, users: Users, online: Online = _never) -> dict[str, Any]:
    role = "owner" if m.is_owner else ("moderator" if m.is_moderator else "member")
    out: dict[str, Any] = {
        **m.custom,
        "user_id": users.by_id[m.user_id].chat_id if m.user_id in users.by_id else str(m.user_id),
        "user": user(users.get(m.user_id), online),
        "created_at": iso(m.created_at), "updated_at": iso(m.updated_at),
        "banned": False, "shadow_banned": False, "role": role, "channel_role": m.channel_role,
        "notifications_muted": False,
    }
    if m.is_moderator:
        out["is_moderator"] = True
    if m.invited:
        out["invited"] = True
    if m.invite_accepted_at is not None:
        out["invite_accepted_at"] = iso(m.invite_accepted_at)
    if m.invite_rejected_at is not None:
        out["invite_rejected_at"] = iso(m.invite_rejected_at)
    return out


def reaction(r: Reaction, users: Users, online: Online = _never) -> dict[str, Any]:
    u = users.get(r.user_id)
    return {**r.custom, "message_id": r.message_id, "user_id": u.chat_id if u else None, "user": user(u, online),
            "type": r.type, "score": r.score, "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)}


def message(v: MessageView, users: Users, online: Online = _never, *, quoted: bool = True) -> dict[str, Any]:
    m = v.message
    groups = {}
    for kind, count in m.reaction_counts.items():
        groups[kind] = {"count": count, "sum_scores": m.reaction_scores.get(kind, count)}
    out: dict[str, Any] = {
        **m.custom,
        "id": m.id, "text": m.text, "html": m.html, "type": m.type, "cid": m.cid,
        "user": user(users.get(m.user_id), online),
        "attachments": m.attachments,
        "latest_reactions": [reaction(r, users, online) for r in v.latest_reactions],
        "own_reactions": [reaction(r, users, online) for r in v.own_reactions],
        "reaction_counts": m.reaction_counts, "reaction_scores": m.reaction_scores,
        "reaction_groups": groups or None,
        "reply_count": m.reply_count, "deleted_reply_count": 0,
        "mentioned_users": [user(users.get(i), online) for i in m.mentioned_user_ids if users.get(i)],
        "silent": m.silent, "shadowed": False,
        "pinned": m.pinned, "pinned_at": iso(m.pinned_at),
        "pinned_by": user(users.get(m.pinned_by_id), online), "pin_expires": iso(m.pin_expires),
        "created_at": iso(m.created_at), "updated_at": iso(m.updated_at),
    }
    if m.deleted_at is not None:
        out["deleted_at"] = iso(m.deleted_at)
    if m.parent_id is not None:
        out["parent_id"] = m.parent_id
        out["show_in_channel"] = m.show_in_channel
    if m.quoted_message_id is not None:
        out["quoted_message_id"] = m.quoted_message_id
        if quoted and v.quoted is not None:
            out["quoted_message"] = message(MessageView(message=v.quoted), users, online, quoted=False)
    if m.thread_participant_ids:
        out["thread_participants"] = [user(users.get(i), online) for i in m.thread_participant_ids
                                      if users.get(i)]
    if m.last_reply_at is not None:
        out["last_reply_at"] = iso(m.last_reply_at)
    if m.restricted_visibility is not None:
        out["restricted_visibility"] = [u.chat_id for i in m.restricted_visibility if (u := users.get(i))]
    return out


def history_entry(e: HistoryEntry, users: Users) -> dict[str, Any]:
    by = users.get(e.updated_by_id)
    return {**e.custom, "message_id": e.message_id, "text": e.text, "attachments": e.attachments,
            "is_deleted": e.is_deleted, "message_updated_by_id": by.chat_id if by else None,
            "message_updated_at": iso(e.updated_at)}


def read(m: Member, users: Users, online: Online = _never) -> dict[str, Any]:
    return {"user": user(users.get(m.user_id), online), "last_read": iso(m.last_read or m.created_at),
            "unread_messages": m.unread_messages, "last_read_message_id": m.last_read_message_id}


def state(s: ChannelState, online: Online = _never, watchers: Iterable[User] = (),
          watcher_count: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "channel": channel(s.channel, s.channel_type, s.users, online),
        "members": [member(m, s.users, online) for m in s.members],
        "messages": [message(v, s.users, online) for v in s.messages],
        "pinned_messages": [message(v, s.users, online) for v in s.pinned_messages],
        "read": [read(m, s.users, online) for m in s.reads],
        "watcher_count": watcher_count,
        "watchers": [user(w, online) for w in watchers],
        "hidden": s.hidden,
    }
    if s.membership is not None:
        out["membership"] = member(s.membership, s.users, online)
    return out
