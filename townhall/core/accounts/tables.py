from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
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
