"""Long operations answer a task id; clients poll the task until it is completed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, String, Table, insert, select

from townhall.core.clock import new_id, now
from townhall.core.errors import NotFound
from townhall.core.uow import UnitOfWork
from townhall.db.base import Json, UTCDateTime, metadata
from townhall.db.database import Connection

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", Json),
    Column("error", Json),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


async def record_completed(uow: UnitOfWork, kind: str, result: dict[str, Any]) -> str:
    """Bulk operations here run inside the request's transaction, so their task is done on commit."""
    task_id = new_id()
    stamp = now()
    await uow.conn.execute(insert(tasks).values(id=task_id, kind=kind, status="completed", result=result,
                                                created_at=stamp, updated_at=stamp))
    return task_id


async def get_task(conn: Connection, task_id: str) -> dict[str, Any]:
    row = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).first()
    if row is None:
        raise NotFound("task_not_found", f"task {task_id} does not exist")
    return dict(row._mapping)
