"""Chat domain events. Channel events go to ``channel:<cid>``; personal ones to ``user:<id>``.

Each carries the snapshots a gateway needs to render it without a database round trip.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from townhall.core.accounts.models import User
from townhall.core.chat.models import Channel, Member, MessageView, Reaction, Users
from townhall.core.events import Event


class ChannelEvent(Event):
    channel: Channel
    users: Users = Field(default_factory=Users)
    # Members to tell when they are not watching the channel (notification.* events).
    member_ids: list[int] = Field(default_factory=list)
    actor_id: int | None = None


class MessageNew(ChannelEvent):
    type = "chat.message.new"
    view: MessageView


class MessageUpdated(ChannelEvent):
    type = "chat.message.updated"
    view: MessageView


class MessageDeleted(ChannelEvent):
    type = "chat.message.deleted"
    view: MessageView
    hard: bool = False


class MessageUndeleted(ChannelEvent):
    type = "chat.message.undeleted"
    view: MessageView


class ReactionChanged(ChannelEvent):
    type = "chat.reaction"
    kind: str  # new | updated | deleted
    view: MessageView
    reaction: Reaction


class ChannelUpdated(ChannelEvent):
    type = "chat.channel.updated"


class ChannelDeleted(ChannelEvent):
    type = "chat.channel.deleted"


class ChannelTruncated(ChannelEvent):
    type = "chat.channel.truncated"


class ChannelHidden(ChannelEvent):
    type = "chat.channel.hidden"
    clear_history: bool = False


class ChannelVisible(ChannelEvent):
    type = "chat.channel.visible"


class MemberChanged(ChannelEvent):
    """member.added / member.removed / member.updated; invites too."""

    type = "chat.member"
    kind: str  # added | removed | updated | invited | invite_accepted | invite_rejected
    member: Member


class MessageRead(ChannelEvent):
    type = "chat.message.read"
    last_read_message_id: str | None = None


class MarkedUnread(ChannelEvent):
    type = "chat.notification.mark_unread"
    member: Member
    first_unread_message_id: str


class ChannelClientEvent(Event):
    """typing.start / typing.stop / custom events sent by clients; not stored."""

    type = "chat.channel.client_event"
    channel: Channel
    users: Users = Field(default_factory=Users)
    actor_id: int | None = None
    event_type: str
    payload: dict[str, Any] = Field(default_factory=dict)


class UserClientEvent(Event):
    """A custom event sent to one user (POST /users/{id}/event)."""

    type = "chat.user.client_event"
    user: User
    event_type: str
    payload: dict[str, Any] = Field(default_factory=dict)
