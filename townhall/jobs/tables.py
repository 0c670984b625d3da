"""Tables of the outbox and the job worker: webhook subscriptions, outbox rows, the delivery log."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from townhall.db.base import BigId, Json, UTCDateTime, metadata

# REST hooks: a target URL and the events it wants; paused (never dropped) when it keeps failing.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("surface", String(16), nullable=False),
    Column("target_url", Text, nullable=False),
    Column("events", Json, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # active | paused | deleted
    Column("failures", Integer, nullable=False),  # consecutive failed attempts
    Column("failing_since", UTCDateTime),  # the first of them
    Column("created_by", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("paused_at", UTCDateTime),
    Column("deleted_at", UTCDateTime),
)

# One row per (event, subscription), written in the transaction of the change that caused it.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subscription_id", BigId, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("delivery_id", String(36), nullable=False, unique=True),
    Column("event", String(64), nullable=False),
    Column("body", Json, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=False),
    Column("claim_token", String(36)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ix_outbox_pending", "status", "next_attempt_at"),
    Index("ix_outbox_subscription", "subscription_id", "id"),
)

# Every attempt, per subscription.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subscription_id", BigId, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("outbox_id", BigId, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | failed
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
)
