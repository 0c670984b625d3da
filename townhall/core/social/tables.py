"""Tables of the social domain: the follow graph, blocks, contacts, invites, notifications,
notification settings, the moderation queue and topics (the tree people and clubs are tagged
with, seeded by migration 0007)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from townhall.db.base import BigId, Json, UTCDateTime, metadata

follows = Table(
    "follows",
    metadata,
    Column("follower_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("followee_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # How often the follower hears of the followee: 1 always, 2 sometimes, 3 never.
    Column("notification_type", Integer, nullable=False, default=2),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_follows_followee", "followee_id", "follower_id"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("blocker_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_blocks_blocked", "blocked_id"),
)

# Suggestions a user dismissed (ignore_suggested_follow): never suggested to them again.
ignored_suggestions = Table(
    "ignored_suggestions",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("ignored_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

# Address-book entries a user uploaded (E.164 numbers): friend suggestions and invites.
contacts = Table(
    "contacts",
    metadata,
    Column("owner_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("phone", String(32), primary_key=True),
    Column("name", String(255)),
    Index("ix_contacts_phone", "phone"),
)

# Invitations to the app by phone number: the invitee's first sign-in skips the waitlist.
app_invites = Table(
    "app_invites",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("inviter_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("name", String(255)),
    Column("message", Text),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("inviter_id", "phone"),
    Index("ix_app_invites_phone", "phone"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("actor_id", BigId, ForeignKey("users.id", ondelete="CASCADE")),
    Column("club_id", BigId),
    Column("event_id", BigId),
    Column("message", Text, nullable=False, default=""),
    Column("actionable", Boolean, nullable=False, default=False),
    Column("is_unread", Boolean, nullable=False, default=True),
    Column("ignored_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_notifications_user_id", "user_id", "id"),
)

notification_settings = Table(
    "notification_settings",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("enable_trending", Boolean, nullable=False, default=True),
    Column("frequency", Integer, nullable=False, default=3),
    Column("paused_until", UTCDateTime),
    Column("system_enabled", Integer),
    Column("apn_token", String(255)),
)

# The moderation queue (report_incident); ``townhall incidents`` lists it.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("reporter_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("channel", String(64)),
    Column("incident_type", String(64)),
    Column("description", Text, nullable=False, default=""),
    Column("email", String(255)),
    Column("details", Json, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
)

# Topic ids are fixed by the seed (clients keep them), so they are not generated.
topics = Table(
    "topics",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    Column("parent_id", BigId, ForeignKey("topics.id", ondelete="CASCADE")),
    Column("title", String(255), nullable=False),
    Column("abbreviated_title", String(255), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_topics_parent_id", "parent_id"),
)

user_topics = Table(
    "user_topics",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("topic_id", BigId, ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("user_id", "topic_id"),
    Index("ix_user_topics_topic_id", "topic_id"),
)
