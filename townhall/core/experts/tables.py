"""Tables of the experts surface's OAuth2 provider and expert profiles."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from townhall.db.base import BigId, UTCDateTime, metadata

# An issued ``oauth_token``: only its SHA-256 is kept.
oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The application it was issued to (its public client_id); NULL for tokens made by townhall itself.
    Column("client_id", String(64)),
    Column("scope", String(255), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),  # NULL: until revoked
    Column("revoked_at", UTCDateTime),
    Index("ix_oauth_tokens_user_id", "user_id"),
    Index("ix_oauth_tokens_client_id", "client_id"),
)

# A member's expert settings and counters (one row once they set any; absent: not an expert yet,
# rate 0). Money is kept in cents.
expert_profiles = Table(
    "expert_profiles",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("hourly_rate_cents", Integer, nullable=False, default=0),
    Column("expertise", Text, nullable=False, default=""),
    Column("location", String(255), nullable=False, default=""),
    Column("timezone", String(64), nullable=False, default=""),
    Column("charity_name", String(255), nullable=False, default=""),
    Column("charity_url", String(1024), nullable=False, default=""),
    Column("charity_logo", String(1024), nullable=False, default=""),
    Column("profile_page_views_count", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
)
