"""Events clients send (typing, custom events): checked here, never stored, published by the
surface straight to the bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from townhall.core.accounts.models import User
from townhall.core.chat.channels import access
from townhall.core.chat.events import ChannelClientEvent, UserClientEvent
from townhall.core.chat.models import Users
from townhall.core.chat.permissions import Action, Actor, check
from townhall.core.errors import Invalid
from townhall.core.events import channel_topic, user_topic
from townhall.db.database import Connection

TYPING = ("typing.start", "typing.stop")
# Event families the server itself emits: a custom event may not pose as one of them.
RESERVED_PREFIXES = frozenset({"message", "channel", "member", "user", "notification", "reaction", "typing",
                               "health"})
NOT_PAYLOAD = frozenset({"type", "user", "user_id"})


def check_custom_type(kind: str) -> None:
    if kind.split(".")[0] in RESERVED_PREFIXES:
        raise Invalid("invalid_event_type", f'"{kind}" is reserved; custom events need their own type')


async def check_channel_event(
    conn: Connection, actor: Actor, cid: str, kind: str, payload: Mapping[str, Any]
) -> ChannelClientEvent:
    """A typing or custom event for the watchers of ``cid``, if the channel type and the
    caller's grants allow it."""
    channel, ctype, member = await access(conn, actor, cid, Action.READ_CHANNEL)
    if kind in TYPING:
        if not ctype.flag("typing_events"):
            raise Invalid("typing_disabled", f'typing events are disabled for channel type "{ctype.name}"')
        check(Action.SEND_TYPING, actor, channel.type, member, channel)
    else:
        if not ctype.flag("custom_events"):
            raise Invalid("custom_events_disabled", f'custom events are disabled for channel type "{ctype.name}"')
        check_custom_type(kind)
        check(Action.SEND_EVENT, actor, channel.type, member, channel)
    users = Users()
    if actor.user is not None and actor.user.id > 0:  # not the anonymous pseudo-user
        users.add(actor.user)
    return ChannelClientEvent(topic=channel_topic(channel.cid), channel=channel, users=users,
                              actor_id=actor.user_id, event_type=kind,
                              payload={k: v for k, v in payload.items() if k not in NOT_PAYLOAD})


def check_user_event(user: User, kind: str, payload: Mapping[str, Any]) -> UserClientEvent:
    """A custom event for one user's connections (server-side only)."""
    check_custom_type(kind)
    return UserClientEvent(topic=user_topic(user.id), user=user, event_type=kind,
                           payload={k: v for k, v in payload.items() if k != "type"})
