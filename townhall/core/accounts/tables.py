from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from townhall.db.base import BigId, Json, UTCDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(255)),
    Column("image", Text),
    Column("role", String(32), nullable=False, default="user"),
    Column("language", String(16)),
    Column("invisible", Boolean, nullable=False, default=False),
    Column("banned", Boolean, nullable=False, default=False),
    Column("custom", Json, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_active", UTCDateTime),
    Column("deactivated_at", UTCDateTime),
    Column("deleted_at", UTCDateTime),
)

# How each surface names a user: ("chat", "<stream user id>"), later ("phone", "+1..."), ...
identities = Table(
    "identities",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("value", String(255), nullable=False),
    UniqueConstraint("kind", "value"),
    Index("ix_identities_user_kind", "user_id", "kind"),
)

# The social profile of a user (Clubhouse's user_profile): one row per user who has one.
# ``name`` and the photo are the user's own columns (users.name, users.image), shared by surfaces.
profiles = Table(
    "profiles",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(32)),
    Column("username_key", String(32), unique=True),  # lower-cased: unique case-insensitively
    Column("displayname", String(64)),
    Column("bio", Text),
    Column("twitter", String(64)),
    Column("instagram", String(64)),
    Column("skintone", Integer),
    Column("email", String(255)),
    Column("invited_by", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("waitlisted", Boolean, nullable=False, default=False),
    Column("num_invites", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    # Lookups by e-mail address (stored lower-cased), the oldest account first.
    Index("ix_profiles_email", "email", "user_id"),
)
# Lookups by Twitter handle, case-insensitively: ``lower(twitter) = :handle``, the oldest account first.
Index("ix_profiles_twitter_lower", func.lower(profiles.c.twitter), profiles.c.user_id)

# Signed-in sessions: the opaque auth_token (only its SHA-256 is kept); JWTs name the session.
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("device_id", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # The refresh tokens of this generation work (once): see core/accounts/sessions.py.
    Column("refresh_generation", Integer, nullable=False, default=0, server_default="0"),
)

# The pending verification code of a phone number (its HMAC, never the code).
phone_codes = Table(
    "phone_codes",
    metadata,
    Column("phone", String(32), primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
)

# Fixed-window counters throttling sign-in per number and per client address.
auth_throttle = Table(
    "auth_throttle",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False, default=0),
)

# Text messages the console SMS backend "sent" (``townhall sms last PHONE`` reads them).
sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("phone", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_sms_messages_phone_id", "phone", "id"),
)
