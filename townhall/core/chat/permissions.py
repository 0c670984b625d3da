"""Who may do what in chat: THE one place that decides (Stream's default grants, condensed).

Server-side callers (the app's secret) may do anything. Client-side callers are judged by their
global role, their membership and role in the channel, and the channel type's policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from townhall.core.accounts.models import User
from townhall.core.chat.models import Channel, Member
from townhall.core.errors import Forbidden


class Action(StrEnum):
    CREATE_CHANNEL = "CreateChannel"
    READ_CHANNEL = "ReadChannel"
    UPDATE_CHANNEL = "UpdateChannel"
    UPDATE_MEMBERS = "UpdateChannelMembers"
    DELETE_CHANNEL = "DeleteChannel"
    TRUNCATE_CHANNEL = "TruncateChannel"
    FREEZE_CHANNEL = "FreezeChannel"
    JOIN_CHANNEL = "AddOwnChannelMembership"
    LEAVE_CHANNEL = "RemoveOwnChannelMembership"
    SEND_MESSAGE = "CreateMessage"
    UPDATE_OWN_MESSAGE = "UpdateOwnMessage"
    UPDATE_ANY_MESSAGE = "UpdateMessage"
    DELETE_OWN_MESSAGE = "DeleteOwnMessage"
    DELETE_ANY_MESSAGE = "DeleteMessage"
    PIN_MESSAGE = "PinMessage"
    SEND_REACTION = "CreateReaction"
    DELETE_OWN_REACTION = "DeleteOwnReaction"
    SEND_EVENT = "SendCustomEvent"
    SEND_TYPING = "SendTypingEvents"
    MARK_READ = "ReadChannelMembers"
    HIDE_CHANNEL = "HideChannel"


A = Action
_MEMBER = frozenset(
    {A.READ_CHANNEL, A.SEND_MESSAGE, A.UPDATE_OWN_MESSAGE, A.DELETE_OWN_MESSAGE, A.PIN_MESSAGE,
     A.SEND_REACTION, A.DELETE_OWN_REACTION, A.SEND_EVENT, A.SEND_TYPING, A.MARK_READ,
     A.HIDE_CHANNEL, A.LEAVE_CHANNEL}
)
_MODERATOR = _MEMBER | {
    A.UPDATE_CHANNEL, A.UPDATE_MEMBERS, A.UPDATE_ANY_MESSAGE, A.DELETE_ANY_MESSAGE,
    A.TRUNCATE_CHANNEL, A.FREEZE_CHANNEL,
}
_OWNER = _MODERATOR | {A.DELETE_CHANNEL}
_OPEN_READ = frozenset({A.READ_CHANNEL, A.MARK_READ, A.HIDE_CHANNEL})
_OPEN_WRITE = _OPEN_READ | {A.SEND_MESSAGE, A.UPDATE_OWN_MESSAGE, A.DELETE_OWN_MESSAGE, A.SEND_REACTION,
                            A.DELETE_OWN_REACTION, A.SEND_EVENT, A.JOIN_CHANNEL}

# What a signed-in user who is NOT a member may do, per channel-type policy.
_NON_MEMBER = {
    "members_only": frozenset({A.CREATE_CHANNEL}),  # messaging, team, commerce, custom types
    "livestream": _OPEN_WRITE | {A.CREATE_CHANNEL},
    "gaming": _OPEN_WRITE,
}
_POLICY = {"livestream": "livestream", "gaming": "gaming"}
_ANONYMOUS = {"livestream": frozenset({A.READ_CHANNEL}), "gaming": frozenset({A.READ_CHANNEL})}
_FROZEN_BLOCKS = frozenset({A.SEND_MESSAGE, A.SEND_REACTION, A.UPDATE_OWN_MESSAGE})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: the app itself (server side, possibly on behalf of ``user``) or a user."""

    user: User | None
    server: bool = False

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


def allowed(action: Action, actor: Actor, channel_type: str, member: Member | None,
            channel: Channel | None = None) -> bool:
    if actor.server:
        return True
    user = actor.user
    if user is None:
        return False
    if channel is not None and channel.frozen and action in _FROZEN_BLOCKS:
        return False
    if user.role == "admin":
        return True
    if user.role == "anonymous":
        return action in _ANONYMOUS.get(channel_type, frozenset())
    is_creator = channel is not None and channel.created_by_id == user.id
    if is_creator or (member is not None and member.invite_rejected_at is None):
        if is_creator or (member is not None and member.is_owner):
            grants = _OWNER
        elif (member is not None and member.is_moderator) or user.role == "moderator":
            grants = _MODERATOR
        else:
            grants = _MEMBER
        if action in grants:
            return True
    if user.role == "moderator" and action in _MODERATOR:
        return True
    return action in _NON_MEMBER[_POLICY.get(channel_type, "members_only")]


def check(action: Action, actor: Actor, channel_type: str, member: Member | None,
          channel: Channel | None = None) -> None:
    if not allowed(action, actor, channel_type, member, channel):
        who = actor.user.chat_id if actor.user else "anonymous"
        where = channel.cid if channel is not None else channel_type
        raise Forbidden(
            "not_allowed",
            f'User "{who}" with role "{actor.user.role if actor.user else "anonymous"}" is not '
            f"allowed to perform action {action.value} in scope '{where}'",
            action=action.value,
        )


def default_grants(channel_type: str) -> dict[str, list[str]]:
    """The grants this module applies to a channel type, by role, as Stream lists them."""
    non_member = _NON_MEMBER[_POLICY.get(channel_type, "members_only")]
    return {
        "admin": sorted(a.value for a in Action),
        "owner": sorted(a.value for a in _OWNER),
        "channel_moderator": sorted(a.value for a in _MODERATOR),
        "channel_member": sorted(a.value for a in _MEMBER),
        "user": sorted(a.value for a in non_member),
        "guest": sorted(a.value for a in non_member),
        "anonymous": sorted(a.value for a in _ANONYMOUS.get(channel_type, frozenset())),
    }


def check_user_change(actor: Actor, chat_id: str, *, role: str | None = None) -> None:
    """Client-side callers may change only themselves, and never their role."""
    if actor.server:
        return
    if actor.user is None or actor.user.chat_id != chat_id:
        raise Forbidden("not_allowed", "users can only update themselves")
    if role is not None and role != actor.user.role:
        raise Forbidden("not_allowed", "users cannot change their own role")
