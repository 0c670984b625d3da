"""Time and id helpers shared by every domain."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def iso(dt: datetime | None) -> str | None:
    """RFC 3339 with microseconds and a Z, the way Stream and most clients expect it."""
    if dt is None:
        return None
    if dt.tzinfo is not None and dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    # isoformat is several times cheaper than strftime, and always writes a 4-digit year.
    return dt.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
