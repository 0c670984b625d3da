"""Tables of the experts surface's OAuth2 provider: applications, authorization codes, tokens."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

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
