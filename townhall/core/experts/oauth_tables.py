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

# A registered client application: its public client_id, the SHA-256 of its secret (shown once)
# and the one redirect URI codes are sent to.
oauth_applications = Table(
    "oauth_applications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("redirect_uri", String(2048), nullable=False),
    # The member who registered it; NULL: registered by the operator (``townhall oauth-app create``).
    Column("owner_id", BigId, ForeignKey("users.id", ondelete="CASCADE")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("secret_updated_at", UTCDateTime, nullable=False),
    Index("ix_oauth_applications_owner_id", "owner_id"),
)

# An authorization code (only its SHA-256), redeemable once before ``expires_at`` by its client,
# with the redirect URI and PKCE challenge of the request that made it.
oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("client_id", String(64), ForeignKey("oauth_applications.client_id", ondelete="CASCADE"),
           nullable=False),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", String(2048)),  # as the authorization request gave it; NULL: not given
    Column("scope", String(255), nullable=False, default=""),
    Column("code_challenge", String(128)),
    Column("code_challenge_method", String(8)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    # The token issued for it: revoked when the code is presented again (RFC 6749 section 4.1.2).
    Column("token_id", BigId, ForeignKey("oauth_tokens.id", ondelete="SET NULL")),
    Index("ix_oauth_codes_client_id", "client_id"),
    Index("ix_oauth_codes_expires_at", "expires_at"),
)
