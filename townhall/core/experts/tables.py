"""Tables of expert profiles (the OAuth2 provider's are in oauth_tables.py)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from townhall.db.base import BigId, UTCDateTime, metadata

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
