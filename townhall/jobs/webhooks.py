"""REST hook subscriptions and the outbox rows they receive.

An event is written to the outbox (one row per subscription that wants it) in the SAME
transaction as the change that caused it (DESIGN rule 5); the worker (``townhall.jobs.worker``)
delivers the rows at least once. Subscriptions belong to a surface (``forum``, ...), which
names the events it offers and shapes their entities.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from townhall.core.clock import new_id, now
from townhall.core.errors import Invalid, NotFound
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.jobs.tables import outbox, webhook_deliveries, webhook_subscriptions

ACTIVE, PAUSED, DELETED = "active", "paused", "deleted"
PENDING, DELIVERED = "pending", "delivered"
MAX_URL_LENGTH = 2000
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    surface: str
    target_url: str
    events: list[str]
    secret: str
    status: str
    failures: int
    created_by: str | None
    created_at: datetime
    paused_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    outbox_id: int
    event: str
    delivery_id: str
    attempt: int
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: datetime


def _subscription(row: RowMapping) -> Subscription:
    return Subscription(id=row["id"], surface=row["surface"], target_url=row["target_url"], events=list(row["events"]),
                        secret=row["secret"], status=row["status"], failures=row["failures"],
                        created_by=row["created_by"], created_at=row["created_at"], paused_at=row["paused_at"])


def check_target_url(url: Any) -> str:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Invalid("invalid_target_url", "target_url must be an http(s) URL", field="target_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("invalid_target_url", "target_url must be an http(s) URL", field="target_url")
    return url


def check_events(events: Any, offered: Collection[str]) -> list[str]:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise Invalid("invalid_events", "events must be a non-empty list of event names", field="events")
    unknown = sorted(set(events) - set(offered))
    if unknown:
        raise Invalid("unknown_events", f"unknown event(s): {', '.join(unknown)}; offered: {', '.join(offered)}",
                      field="events")
    return list(dict.fromkeys(events))


async def do_subscribe(uow: UnitOfWork, surface: str, target_url: str, events: Sequence[str],
                       created_by: str | None) -> Subscription:
    stamp = now()
    new = (await uow.conn.execute(
        insert(webhook_subscriptions).values(
            surface=surface, target_url=target_url, events=list(events), secret=secrets.token_hex(32),
            status=ACTIVE, failures=0, created_by=created_by, created_at=stamp,
        ).returning(webhook_subscriptions.c.id)
    )).scalar_one()
    return await access_subscription(uow.conn, surface, new)


async def access_subscription(conn: Connection, surface: str, subscription_id: int) -> Subscription:
    row = (await conn.execute(select(webhook_subscriptions).where(
        webhook_subscriptions.c.id == subscription_id, webhook_subscriptions.c.surface == surface,
        webhook_subscriptions.c.status != DELETED))).mappings().first()
    if row is None:
        raise NotFound("subscription_not_found", f"webhook subscription {subscription_id} does not exist")
    return _subscription(row)


async def list_subscriptions(conn: Connection, surface: str, *, limit: int, offset: int) -> list[Subscription]:
    rows = (await conn.execute(
        select(webhook_subscriptions)
        .where(webhook_subscriptions.c.surface == surface, webhook_subscriptions.c.status != DELETED)
        .order_by(webhook_subscriptions.c.id).limit(limit).offset(offset)
    )).mappings()
    return [_subscription(r) for r in rows]


async def do_unsubscribe(uow: UnitOfWork, surface: str, subscription_id: int) -> None:
    """The subscription goes, and with it the events still waiting for it (nobody will deliver
    them); delivered rows stay until the worker prunes them."""
    await access_subscription(uow.conn, surface, subscription_id)
    await uow.conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
                           .values(status=DELETED, deleted_at=now()))
    waiting = select(outbox.c.id).where(outbox.c.subscription_id == subscription_id, outbox.c.status == PENDING)
    await uow.conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.outbox_id.in_(waiting)))
    await uow.conn.execute(delete(outbox).where(outbox.c.subscription_id == subscription_id,
                                                outbox.c.status == PENDING))


async def do_resume(uow: UnitOfWork, surface: str, subscription_id: int) -> Subscription:
    """A paused subscription delivers again, starting with everything kept for it meanwhile."""
    await access_subscription(uow.conn, surface, subscription_id)
    stamp = now()
    await uow.conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
                           .values(status=ACTIVE, failures=0, failing_since=None, paused_at=None))
    await uow.conn.execute(update(outbox).where(outbox.c.subscription_id == subscription_id,
                                                outbox.c.status == PENDING).values(next_attempt_at=stamp))
    return await access_subscription(uow.conn, surface, subscription_id)


async def list_deliveries(conn: Connection, surface: str, subscription_id: int, *, limit: int,
                          offset: int) -> list[Delivery]:
    await access_subscription(conn, surface, subscription_id)
    stmt = (
        select(webhook_deliveries, outbox.c.event, outbox.c.delivery_id)
        .join(outbox, outbox.c.id == webhook_deliveries.c.outbox_id)
        .where(webhook_deliveries.c.subscription_id == subscription_id)
        .order_by(webhook_deliveries.c.id.desc()).limit(limit).offset(offset)
    )
    return [Delivery(id=r["id"], outbox_id=r["outbox_id"], event=r["event"], delivery_id=r["delivery_id"],
                     attempt=r["attempt"], outcome=r["outcome"], status_code=r["status_code"], error=r["error"],
                     duration_ms=r["duration_ms"], created_at=r["created_at"])
            for r in (await conn.execute(stmt)).mappings()]


async def pending_count(conn: Connection, subscription_id: int) -> int:
    return int((await conn.execute(select(func.count()).select_from(outbox).where(
        outbox.c.subscription_id == subscription_id, outbox.c.status == PENDING))).scalar_one())


async def enqueue(uow: UnitOfWork, surface: str, event: str, entities: Mapping[str, list[dict[str, Any]]]) -> int:
    """Write ``event`` for every active or paused subscription of ``surface`` that wants it, in
    the caller's transaction. Returns the number of rows written."""
    subs = (await uow.conn.execute(select(webhook_subscriptions.c.id, webhook_subscriptions.c.events).where(
        webhook_subscriptions.c.surface == surface,
        webhook_subscriptions.c.status.in_((ACTIVE, PAUSED))))).all()
    stamp = now()
    rows = [
        {"subscription_id": sub_id, "delivery_id": new_id(), "event": event,
         "body": {"event": event, "entities": dict(entities)}, "status": PENDING, "attempts": 0,
         "next_attempt_at": stamp, "claimed_until": _EPOCH, "created_at": stamp}
        for sub_id, wanted in subs if event in (wanted or [])
    ]
    if rows:
        await uow.conn.execute(insert(outbox), rows)
    return len(rows)
