"""Push notifications of calls, kept in ``call_notifications`` and delivered at least once.

Rows are written in the transaction of the change that caused them (``events.write_notifications``,
an outbox writer). Delivery (``actions.deliver_notifications``) claims due rows by pushing their
``next_attempt_at`` past a lease in one short unit of work, sends them outside any transaction, and
records each outcome in another; a failed send is retried with exponential backoff, up to
``MAX_ATTEMPTS``, and a claim whose process died is simply due again once the lease runs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from townhall.core.calls.tables import call_notifications
from townhall.core.clock import now
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
LEASE = timedelta(seconds=60)
BACKOFF = timedelta(seconds=30)
MAX_ATTEMPTS = 8
BATCH = 100
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    user_id: int
    call_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


async def enqueue(uow: UnitOfWork, user_id: int, call_id: int, kind: str, payload: dict[str, Any]) -> int:
    stamp = now()
    await uow.conn.execute(insert(call_notifications).values(
        user_id=user_id, call_id=call_id, kind=kind, payload=payload, status=PENDING, attempts=0,
        next_attempt_at=stamp, created_at=stamp))
    return 1


def _due(at: datetime, call_id: int | None) -> Any:
    c = call_notifications.c
    where = [c.status == PENDING, c.next_attempt_at <= at]
    if call_id is not None:
        where.append(c.call_id == call_id)
    return where


async def any_due(conn: Connection, *, at: datetime | None = None, call_id: int | None = None) -> bool:
    """Whether a notification is due (of the call ``call_id`` only, when given)."""
    c = call_notifications.c
    found = await conn.execute(select(c.id).where(*_due(at or now(), call_id)).limit(1))
    return found.first() is not None


async def do_claim(uow: UnitOfWork, *, at: datetime | None = None, limit: int = BATCH,
                   call_id: int | None = None) -> list[Notification]:
    """Due rows (of the call ``call_id`` only, when given), leased to the caller (another claimer
    skips them until the lease runs out)."""
    at = at or now()
    c = call_notifications.c
    due = select(call_notifications).where(*_due(at, call_id)).order_by(c.id).limit(limit)
    if uow.conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = (await uow.conn.execute(due)).mappings().all()
    if rows:
        await uow.conn.execute(update(call_notifications).where(c.id.in_([r["id"] for r in rows]))
                               .values(next_attempt_at=at + LEASE, attempts=c.attempts + 1))
    return [Notification(id=r["id"], user_id=r["user_id"], call_id=r["call_id"], kind=r["kind"],
                         payload=dict(r["payload"]), attempts=r["attempts"] + 1) for r in rows]


async def do_record(uow: UnitOfWork, note: Notification, error: str | None, *, at: datetime | None = None) -> None:
    """The outcome of one send: delivered, retried later, or given up after MAX_ATTEMPTS."""
    at = at or now()
    c = call_notifications.c
    if error is None:
        values: dict[str, Any] = {"status": DELIVERED, "delivered_at": at, "last_error": None}
    else:
        retry = at + BACKOFF * 2 ** min(note.attempts - 1, 10)
        values = {"status": FAILED if note.attempts >= MAX_ATTEMPTS else PENDING, "next_attempt_at": retry,
                  "last_error": error[:MAX_ERROR_LENGTH]}
    await uow.conn.execute(update(call_notifications).where(c.id == note.id, c.status == PENDING).values(**values))
