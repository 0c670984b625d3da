"""Tables of rooms and scheduled events."""

from __future__ import annotations

from sqlalchemy import (
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
    text,
)

from townhall.db.base import BigId, Json, UTCDateTime, metadata

scheduled_events = Table(
    "scheduled_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # The public, unguessable name of an event (its URL, clients' event_hashid).
    Column("hashid", String(32), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("time_start", UTCDateTime, nullable=False),
    Column("club_id", BigId, ForeignKey("communities.id", ondelete="CASCADE")),
    Column("is_member_only", Boolean, nullable=False, default=False),
    Column("created_by_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The room code once the event's room is started.
    Column("channel", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_scheduled_events_time_start", "time_start"),
    Index("ix_scheduled_events_club_id", "club_id"),
)

scheduled_event_hosts = Table(
    "scheduled_event_hosts",
    metadata,
    Column("event_id", BigId, ForeignKey("scheduled_events.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("event_id", "user_id"),
    Index("ix_scheduled_event_hosts_user_id", "user_id"),
)

# -- live audio rooms

rooms = Table(
    "rooms",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # the numeric channel_id
    Column("code", String(32), nullable=False, unique=True),  # the public Clubhouse `channel`
    Column("kind", String(16), nullable=False),  # open | social | private | club | community | voice_private
    Column("topic", String(255)),
    Column("club_id", BigId, ForeignKey("communities.id", ondelete="SET NULL")),
    Column("event_id", BigId, ForeignKey("scheduled_events.id", ondelete="SET NULL")),
    Column("creator_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("is_handraise_enabled", Boolean, nullable=False, default=True),
    Column("handraise_permission", Integer, nullable=False, default=1),
    Column("media_backend", String(16), nullable=False, default="null"),
    Column("media_room", String(64), nullable=False, default=""),
    Column("ended_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    # The caller's name for a voice room (a Community Voice Chat community_id, a private voice chat
    # room_id): at most one live room of a kind per name.
    Column("external_id", String(255)),
    Index("ix_rooms_live", "ended_at", "id"),
    Index("ux_rooms_live_external_id", "kind", "external_id", unique=True,
          sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
)

room_participants = Table(
    "room_participants",
    metadata,
    Column("room_id", BigId, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),  # moderator | speaker | listener
    # joined (seen, or credentials issued) | connected (media connected) | interrupted (media dropped,
    # grace running) | left | removed
    Column("status", String(16), nullable=False),
    Column("hand_raised", Boolean, nullable=False, default=False),
    Column("invited_to_speak", Boolean, nullable=False, default=False),
    Column("muted", Boolean, nullable=False, default=False),
    Column("pubnub_token", String(64), nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("speaker_since", UTCDateTime),
    Column("last_seen_at", UTCDateTime, nullable=False),
    # Voice rooms: the user's role in the community (owner | moderator | member | none); owners and
    # moderators moderate the room whether they speak or not. NULL in Clubhouse rooms.
    Column("community_role", String(16)),
    # Voice rooms: the profile the caller sent (name, has_claimed_name, profile_picture_url).
    Column("profile", Json),
    PrimaryKeyConstraint("room_id", "user_id"),
    Index("ix_room_participants_user_id", "user_id"),
    Index("ix_room_participants_pubnub_token", "pubnub_token"),
)

# Who may enter a private room, and invitations to rooms (invite_to_existing/new_channel).
room_invites = Table(
    "room_invites",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # channel_invite_id
    Column("room_id", BigId, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("invited_by_id", BigId, ForeignKey("users.id", ondelete="CASCADE")),
    Column("status", String(16), nullable=False),  # pending | accepted | rejected | cancelled
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("room_id", "user_id"),
    Index("ix_room_invites_user_id", "user_id"),
)

# Users blocked from a room: they cannot join it again.
room_blocks = Table(
    "room_blocks",
    metadata,
    Column("room_id", BigId, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("blocked_by_id", BigId, ForeignKey("users.id", ondelete="CASCADE")),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("room_id", "user_id"),
)

# Rooms a user hid from their feed (hide_channel).
room_hidden = Table(
    "room_hidden",
    metadata,
    Column("room_id", BigId, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("room_id", "user_id"),
)
