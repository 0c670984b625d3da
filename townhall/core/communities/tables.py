"""Tables of communities: clubs on the social surface, organizations on the experts surface."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, PrimaryKeyConstraint, String, Table, Text

from townhall.db.base import BigId, Json, UTCDateTime, metadata

communities = Table(
    "communities",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    # Lowercased name: names are unique case-insensitively.
    Column("name_key", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("photo_url", Text),
    Column("rules", Json, nullable=False, default=list),
    Column("is_follow_allowed", Boolean, nullable=False, default=True),
    Column("is_membership_private", Boolean, nullable=False, default=False),
    Column("is_community", Boolean, nullable=False, default=False),
    Column("enable_private", Boolean, nullable=False, default=True),
    Column("created_by_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# role: "admin" | "member"
community_members = Table(
    "community_members",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("added_by_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("community_id", "user_id"),
    Index("ix_community_members_user_id", "user_id"),
)

community_followers = Table(
    "community_followers",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("community_id", "user_id"),
    Index("ix_community_followers_user_id", "user_id"),
)

# A pending way in: status "nominated" (a member proposed the user; an admin approves) or
# "invited" (an admin invited the user, or approved a nomination; the user accepts).
community_invites = Table(
    "community_invites",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("invited_by_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("status", String(16), nullable=False),
    Column("message", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_community_invites_community_user", "community_id", "user_id", unique=True),
    Index("ix_community_invites_user_id", "user_id"),
)

community_topics = Table(
    "community_topics",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    Column("topic_id", BigId, ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("community_id", "topic_id"),
    Index("ix_community_topics_topic_id", "topic_id"),
)
