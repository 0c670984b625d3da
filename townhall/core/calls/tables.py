"""Tables of expert calls: the calls, the needs members post, the billing records of completed calls
and the push notifications calls send (written in the transaction that caused them)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from townhall.db.base import BigId, Json, UTCDateTime, metadata

# A call request between a seeker and an expert, and its progress (status: pending, dialing_seeker,
# seeker_answered, dialing_expert, expert_answered, seeker_unavailable, expert_unavailable,
# call_completed, canceled). The expert's rate is frozen on the call when it is requested.
expert_calls = Table(
    "expert_calls",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("seeker_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expert_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("reason", String(140), nullable=False),
    Column("hourly_rate_cents", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("canceled_by", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("duration", Integer),  # seconds both parties were connected (together_ms rounded up), once completed
    Column("expires_at", UTCDateTime, nullable=False),
    Column("connected_at", UTCDateTime),  # when the expert connected it (response time)
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The seeker's Idempotency-Key of the request that made it (a retried request finds the call).
    Column("idempotency_key", String(255)),
    Column("dialed_at", UTCDateTime),  # when the party being dialled now was dialled (dial timeout)
    Column("answered_at", UTCDateTime),  # when both parties were first in the media room together
    Column("ended_at", UTCDateTime),
    Column("seeker_present", Boolean, nullable=False, default=False),  # in the media room now
    Column("expert_present", Boolean, nullable=False, default=False),
    # Reconnect grace of an answered call: when each party dropped out (a leave that was not on
    # purpose; null while in the room), when both were last in together (null while one is away),
    # and the milliseconds they were together before that.
    Column("seeker_left_at", UTCDateTime),
    Column("expert_left_at", UTCDateTime),
    Column("together_since", UTCDateTime),
    Column("together_ms", Integer),
    Index("ix_expert_calls_seeker_id_status", "seeker_id", "status"),
    Index("ix_expert_calls_expert_id_status", "expert_id", "status"),
    Index("ix_expert_calls_status_expires_at", "status", "expires_at"),
    Index("ix_expert_calls_seeker_id_idempotency_key", "seeker_id", "idempotency_key", unique=True),
)

# A need a member posts for the members of their organizations; fulfilling it makes a call request.
expert_needs = Table(
    "expert_needs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("requester_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("description", Text, nullable=False),
    Column("paid", Boolean, nullable=False),
    Column("fulfilled_by", BigId, ForeignKey("users.id", ondelete="SET NULL")),
    Column("call_id", BigId, ForeignKey("expert_calls.id", ondelete="SET NULL")),
    Column("fulfilled_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_expert_needs_requester_id", "requester_id"),
)

# What a completed call costs: one record per call (the unique call_id makes billing idempotent).
call_billing_records = Table(
    "call_billing_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("call_id", BigId, ForeignKey("expert_calls.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("payer_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),  # the seeker
    Column("payee_id", BigId, ForeignKey("users.id", ondelete="SET NULL")),  # the expert
    Column("hourly_rate_cents", Integer, nullable=False),
    Column("billed_seconds", Integer, nullable=False),
    Column("billed_minutes", Integer, nullable=False),  # seconds rounded up to whole minutes
    Column("amount_cents", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Push notifications of calls (a call is ringing for you, a call was requested from you), written in
# the transaction of the change and delivered at least once by the calls' periodic job.
call_notifications = Table(
    "call_notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("call_id", BigId, ForeignKey("expert_calls.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed (gave up)
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),  # also the lease of a delivery under way
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ix_call_notifications_status_next_attempt_at", "status", "next_attempt_at"),
)
