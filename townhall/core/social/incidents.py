"""The moderation queue: incidents users report (report_incident); admins list them
(``townhall incidents``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from townhall.core.accounts.tables import users
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.social.tables import incidents
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

MAX_DESCRIPTION = 5000


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    reporter_id: int
    user_id: int | None
    channel: str | None
    incident_type: str | None
    description: str
    email: str | None
    created_at: datetime


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("invalid_field", f"{name} must be text.")
    if len(value) > limit:
        raise Invalid("invalid_field", f"{name} is longer than {limit} characters.")
    return value.strip() or None


async def do_report(uow: UnitOfWork, reporter: int, *, user_id: int | None, channel: Any, incident_type: Any,
                    description: Any, email: Any) -> int:
    text = _text(description, "incident_description", MAX_DESCRIPTION) or ""
    if user_id is not None:
        known = (await uow.conn.execute(select(users.c.id).where(users.c.id == user_id))).first()
        if known is None:
            raise NotFound("user_not_found", "That user does not exist.")
    if user_id is None and not text and channel is None:
        raise Invalid("empty_report", "Please tell us what happened.")
    return int((await uow.conn.execute(insert(incidents).values(
        reporter_id=reporter, user_id=user_id, channel=_text(channel, "channel", 64),
        incident_type=_text(incident_type, "incident_type", 64), description=text,
        email=_text(email, "email", 255), details={}, created_at=now(),
    ).returning(incidents.c.id))).scalar_one())


async def list_incidents(conn: Connection, limit: int = 100) -> list[Incident]:
    rows = await conn.execute(select(incidents).order_by(incidents.c.id.desc()).limit(limit))
    return [Incident(r.id, r.reporter_id, r.user_id, r.channel, r.incident_type, r.description, r.email,
                     r.created_at) for r in rows]
