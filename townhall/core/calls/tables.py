"""Tables of expert calls (the calls core may add tables: needs, billing records...)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from townhall.db.base import BigId, UTCDateTime, metadata

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
    Column("duration", Integer),  # seconds both parties were connected, once completed
    Column("expires_at", UTCDateTime, nullable=False),
    Column("connected_at", UTCDateTime),  # when the expert connected it (response time)
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_expert_calls_seeker_id_status", "seeker_id", "status"),
    Index("ix_expert_calls_expert_id_status", "expert_id", "status"),
    Index("ix_expert_calls_status_expires_at", "status", "expires_at"),
)
