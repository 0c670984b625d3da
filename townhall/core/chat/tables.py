from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from townhall.db.base import BigId, Json, UTCDateTime, metadata

channel_types = Table(
    "chat_channel_types",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("config", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

channels = Table(
    "chat_channels",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("type", String(64), ForeignKey("chat_channel_types.name"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("cid", String(130), nullable=False, unique=True),
    Column("created_by_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("custom", Json, nullable=False),
    Column("frozen", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("member_count", Integer, nullable=False, default=0),
    Column("last_message_at", UTCDateTime),
    Column("truncated_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    Index("ix_chat_channels_type_last_message", "type", "last_message_at"),
)

members = Table(
    "chat_members",
    metadata,
    Column("channel_pk", BigId, ForeignKey("chat_channels.pk", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # channel_member | channel_moderator | owner (the creator)
    Column("channel_role", String(32), nullable=False, default="channel_member"),
    Column("is_owner", Boolean, nullable=False, default=False),
    Column("invited", Boolean, nullable=False, default=False),
    Column("invite_accepted_at", UTCDateTime),
    Column("invite_rejected_at", UTCDateTime),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("clear_history_at", UTCDateTime),
    Column("last_read", UTCDateTime),
    Column("last_read_message_id", String(255)),
    Column("unread_messages", Integer, nullable=False, default=0),
    Column("custom", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_chat_members_user", "user_id"),
)

messages = Table(
    "chat_messages",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("id", String(255), nullable=False, unique=True),
    Column("channel_pk", BigId, ForeignKey("chat_channels.pk", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("type", String(16), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("html", Text, nullable=False, default=""),
    Column("parent_id", String(255)),
    Column("show_in_channel", Boolean, nullable=False, default=False),
    Column("quoted_message_id", String(255)),
    Column("attachments", Json, nullable=False),
    Column("mentioned_user_ids", Json, nullable=False),
    Column("custom", Json, nullable=False),
    Column("reaction_counts", Json, nullable=False),
    Column("reaction_scores", Json, nullable=False),
    Column("reply_count", Integer, nullable=False, default=0),
    Column("thread_participant_ids", Json, nullable=False),
    Column("last_reply_at", UTCDateTime),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("pinned_at", UTCDateTime),
    Column("pinned_by_id", BigId),
    Column("pin_expires", UTCDateTime),
    Column("silent", Boolean, nullable=False, default=False),
    # The users (core ids) a message is restricted to, or NULL when every reader sees it.
    Column("restricted_visibility", JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    Index("ix_chat_messages_channel_created", "channel_pk", "created_at"),
    Index("ix_chat_messages_parent_created", "parent_id", "created_at"),
)

# Message history: the text, attachments and custom data a message had before each change, who
# changed it and when (core/chat/history.py). Sending a message records nothing.
message_history = Table(
    "chat_message_history",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("message_pk", BigId, ForeignKey("chat_messages.pk", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("attachments", Json, nullable=False),
    Column("custom", Json, nullable=False),
    Column("is_deleted", Boolean, nullable=False, default=False),
    Column("updated_by_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_chat_message_history_message_updated", "message_id", "updated_at"),
    Index("ix_chat_message_history_message_pk", "message_pk"),
)

reactions = Table(
    "chat_reactions",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("message_pk", BigId, ForeignKey("chat_messages.pk", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("score", Integer, nullable=False, default=1),
    Column("custom", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("message_pk", "user_id", "type"),
    Index("ix_chat_reactions_message_created", "message_pk", "created_at"),
)

# Read state of a thread for each of its participants (the parent's author and every replier).
thread_reads = Table(
    "chat_thread_reads",
    metadata,
    Column("parent_pk", BigId, ForeignKey("chat_messages.pk", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("unread_replies", Integer, nullable=False, default=0),
    Column("last_read", UTCDateTime),
    Column("last_read_message_id", String(255)),
    Index("ix_chat_thread_reads_user", "user_id"),
)

# A user's chat tokens issued before ``issued_before`` are refused (core/chat/tokens.py).
token_revocations = Table(
    "chat_token_revocations",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("issued_before", UTCDateTime, nullable=False),
)
