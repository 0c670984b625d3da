"""What the chat domain hands out: plain typed snapshots, never rows or wire shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from townhall.core.accounts.models import User


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelType(_Model):
    name: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def flag(self, name: str) -> bool:
        return bool(self.config.get(name, False))

    @property
    def max_message_length(self) -> int:
        return int(self.config.get("max_message_length", 5000))


class Channel(_Model):
    pk: int
    type: str
    id: str
    cid: str
    created_by_id: int | None = None
    custom: dict[str, Any] = Field(default_factory=dict)
    frozen: bool = False
    disabled: bool = False
    member_count: int = 0
    last_message_at: datetime | None = None
    truncated_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class Member(_Model):
    channel_pk: int
    user_id: int
    channel_role: str = "channel_member"
    is_owner: bool = False
    invited: bool = False
    invite_accepted_at: datetime | None = None
    invite_rejected_at: datetime | None = None
    hidden: bool = False
    clear_history_at: datetime | None = None
    last_read: datetime | None = None
    last_read_message_id: str | None = None
    unread_messages: int = 0
    custom: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime

    @property
    def is_moderator(self) -> bool:
        return self.channel_role == "channel_moderator"

    @property
    def pending_invite(self) -> bool:
        return self.invited and self.invite_accepted_at is None and self.invite_rejected_at is None


class Message(_Model):
    pk: int
    id: str
    channel_pk: int
    cid: str
    user_id: int | None
    type: str
    text: str = ""
    html: str = ""
    parent_id: str | None = None
    show_in_channel: bool = False
    quoted_message_id: str | None = None
    attachments: list[Any] = Field(default_factory=list)
    mentioned_user_ids: list[int] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)
    reaction_counts: dict[str, int] = Field(default_factory=dict)
    reaction_scores: dict[str, int] = Field(default_factory=dict)
    reply_count: int = 0
    thread_participant_ids: list[int] = Field(default_factory=list)
    last_reply_at: datetime | None = None
    pinned: bool = False
    pinned_at: datetime | None = None
    pinned_by_id: int | None = None
    pin_expires: datetime | None = None
    silent: bool = False
    # Only these users (and the sender) see the message; None: every reader does.
    restricted_visibility: list[int] | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class HistoryEntry(_Model):
    """What a message held before one change, who made the change and when."""

    message_id: str
    text: str = ""
    attachments: list[Any] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)
    is_deleted: bool = False
    updated_by_id: int | None = None
    updated_at: datetime


class Reaction(_Model):
    message_id: str
    user_id: int
    type: str
    score: int = 1
    custom: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class MessageView(_Model):
    """A message with what a reader sees alongside it."""

    message: Message
    latest_reactions: list[Reaction] = Field(default_factory=list)
    own_reactions: list[Reaction] = Field(default_factory=list)
    quoted: Message | None = None


class Users(_Model):
    """Users referenced by a result, by core id (so a surface can render them without queries)."""

    by_id: dict[int, User] = Field(default_factory=dict)

    def add(self, *users: User) -> None:
        for u in users:
            self.by_id[u.id] = u

    def get(self, user_id: int | None) -> User | None:
        return None if user_id is None else self.by_id.get(user_id)


class ChannelState(_Model):
    channel: Channel
    channel_type: ChannelType
    members: list[Member]
    membership: Member | None = None
    messages: list[MessageView]
    pinned_messages: list[MessageView]
    reads: list[Member]
    users: Users
    created: bool = False
    hidden: bool = False
