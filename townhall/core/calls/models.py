"""What the calls core hands out: calls, needs, billing records, and the call statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from townhall.core.fields import is_digits

# The statuses of a call (Clarity's stable subset), in the order a call walks them.
PENDING = "pending"
DIALING_SEEKER = "dialing_seeker"
SEEKER_ANSWERED = "seeker_answered"
DIALING_EXPERT = "dialing_expert"
EXPERT_ANSWERED = "expert_answered"
SEEKER_UNAVAILABLE = "seeker_unavailable"
EXPERT_UNAVAILABLE = "expert_unavailable"
COMPLETED = "call_completed"
CANCELED = "canceled"

# A call whose media room exists: its two parties may be in it.
LIVE = (DIALING_SEEKER, SEEKER_ANSWERED, DIALING_EXPERT, EXPERT_ANSWERED)
ENDED = (SEEKER_UNAVAILABLE, EXPERT_UNAVAILABLE, COMPLETED, CANCELED)

SEEKER, EXPERT = "seeker", "expert"
CALL_ROOM_PREFIX = "call-"


def room_of(call_id: int) -> str:
    """The media room of a call."""
    return f"{CALL_ROOM_PREFIX}{call_id}"


def call_id_of(room: str) -> int | None:
    """The call a media room belongs to (None: not a call's room)."""
    digits = room[len(CALL_ROOM_PREFIX):] if room.startswith(CALL_ROOM_PREFIX) else ""
    return int(digits) if is_digits(digits) and len(digits) < 19 else None


@dataclass(frozen=True, slots=True)
class Call:
    id: int
    seeker_id: int
    expert_id: int
    reason: str
    hourly_rate_cents: int
    status: str
    canceled_by: int | None
    duration: int | None
    expires_at: datetime
    connected_at: datetime | None
    created_at: datetime
    updated_at: datetime
    dialed_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    seeker_present: bool
    expert_present: bool
    seeker_left_at: datetime | None = None  # dropped out of an answered call (the reconnect grace runs)
    expert_left_at: datetime | None = None
    together_since: datetime | None = None  # both in the room since (answered calls)
    together_ms: int = 0  # milliseconds both were in the room before ``together_since``

    @property
    def room(self) -> str:
        return room_of(self.id)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE

    @property
    def first_left_at(self) -> datetime | None:
        """Since when a party of an answered call has been away (the earlier drop when both are)."""
        return min((t for t in (self.seeker_left_at, self.expert_left_at) if t is not None), default=None)

    def role_of(self, user_id: int) -> str | None:
        """seeker, expert, or None for anyone else."""
        if user_id == self.seeker_id:
            return SEEKER
        if user_id == self.expert_id:
            return EXPERT
        return None


@dataclass(frozen=True, slots=True)
class Need:
    id: int
    requester_id: int
    description: str
    paid: bool
    fulfilled_by: int | None
    call_id: int | None
    fulfilled_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BillingRecord:
    call_id: int
    payer_id: int | None
    payee_id: int | None
    hourly_rate_cents: int
    billed_seconds: int
    billed_minutes: int
    amount_cents: int
    created_at: datetime
