"""Message history: the text, attachments, custom data and deleted state a message had before
each change, kept as Stream's message history (audit log) keeps them.

Sending a message records nothing; every later change of those fields (a full or partial update,
a soft delete, an undelete) records the values from before it, with who made the change and when.
Only server-side calls may read the history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from townhall.core import filters
from townhall.core.accounts.service import chat_user_filter
from townhall.core.chat.models import HistoryEntry, Message, Users
from townhall.core.chat.permissions import Actor
from townhall.core.chat.tables import message_history
from townhall.core.chat.views import load_users
from townhall.core.errors import Forbidden, Invalid
from townhall.db.database import Connection

MAX_LIMIT = 25
MAX_FILTER_FIELDS = 3

_FIELDS: dict[str, filters.FieldSpec] = {
    "message_id": message_history.c.message_id,
    "message_updated_by_id": chat_user_filter(message_history.c.updated_by_id),
    "message_updated_at": message_history.c.updated_at,
}
_SORTS: dict[str, filters.FieldSpec] = {
    "message_updated_at": message_history.c.updated_at,
    "message_id": message_history.c.message_id,
}


def changed(message: Message, values: Mapping[str, Any]) -> bool:
    """Whether an update of ``message`` to ``values`` changes what the history keeps."""
    return any(key in values and values[key] != getattr(message, key)
               for key in ("text", "attachments", "custom"))


async def record(conn: Connection, message: Message, by_id: int | None, at: datetime) -> None:
    """Keep what ``message`` holds now, before a change made by ``by_id`` at ``at``."""
    await conn.execute(insert(message_history).values(
        message_pk=message.pk, message_id=message.id, text=message.text, attachments=message.attachments,
        custom=message.custom, is_deleted=message.deleted_at is not None, updated_by_id=by_id,
        updated_at=at,
    ))


async def query(
    conn: Connection, actor: Actor, conditions: Mapping[str, Any], sort: Sequence[tuple[str, int]],
    *, limit: int, offset: int,
) -> tuple[list[HistoryEntry], Users]:
    """History entries matching ``conditions``, newest change first unless ``sort`` says otherwise."""
    if not actor.server:
        raise Forbidden("not_allowed", "message history can only be queried server-side")
    if not isinstance(conditions, Mapping) or not conditions:
        raise Invalid("invalid_filter", "filter is a required field")
    if len(conditions) > MAX_FILTER_FIELDS:
        raise Invalid("invalid_filter", f"filter takes at most {MAX_FILTER_FIELDS} fields")
    order = filters.compile_sort(sort or [("message_updated_at", -1)], _SORTS)
    tie = message_history.c.pk.desc() if (sort or [("", -1)])[0][1] < 0 else message_history.c.pk
    stmt = (select(message_history).where(filters.compile_filter(conditions, _FIELDS))
            .order_by(*order, tie).limit(limit).offset(offset))
    entries = [
        HistoryEntry(message_id=r.message_id, text=r.text, attachments=r.attachments or [],
                     custom=r.custom or {}, is_deleted=r.is_deleted, updated_by_id=r.updated_by_id,
                     updated_at=r.updated_at)
        for r in await conn.execute(stmt)
    ]
    users = await load_users(conn, Users(), {e.updated_by_id for e in entries if e.updated_by_id is not None})
    return entries, users
