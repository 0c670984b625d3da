"""Message search on the database's own full-text engine (SQLite FTS5 / PostgreSQL tsvector)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, literal_column, or_, select, text

from townhall.core import filters
from townhall.core.accounts.service import chat_user_filter
from townhall.core.chat import channel_types as types
from townhall.core.chat.channels import channel_filter_fields, readable_by
from townhall.core.chat.models import MessageView, Users
from townhall.core.chat.permissions import Actor
from townhall.core.chat.store import message_from_row, message_select, seen_by
from townhall.core.chat.tables import channels, messages
from townhall.core.chat.views import message_views
from townhall.core.errors import Invalid
from townhall.db.database import Connection

MAX_LIMIT = 100
MAX_OFFSET = 1000
_WORD = re.compile(r"\w+", re.UNICODE)


def _fulltext(conn: Connection, query: str) -> Any:
    words = _WORD.findall(query)
    if not words:
        raise Invalid("invalid_query", "query must contain at least one word")
    if conn.dialect.name == "sqlite":
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        hits = text("SELECT rowid FROM chat_messages_fts WHERE chat_messages_fts MATCH :q").bindparams(q=match)
        return messages.c.pk.in_(hits.columns(literal_column("rowid")))
    return literal_column("chat_messages.search_vector").op("@@")(
        func.plainto_tsquery("simple", " ".join(words)))


def _message_fields() -> dict[str, Any]:
    user_id = chat_user_filter(messages.c.user_id)
    return {
        "id": messages.c.id, "text": messages.c.text, "type": messages.c.type,
        "parent_id": messages.c.parent_id, "created_at": messages.c.created_at,
        "updated_at": messages.c.updated_at, "pinned": messages.c.pinned, "user.id": user_id,
        "user_id": user_id, "reply_count": messages.c.reply_count, "cid": channels.c.cid,
    }


async def search(
    conn: Connection, actor: Actor, channel_conditions: Mapping[str, Any], *,
    query: str | None, message_conditions: Mapping[str, Any] | None, sort: Sequence[tuple[str, int]],
    limit: int, offset: int,
) -> tuple[list[MessageView], Users, bool]:
    """Returns the matches, the users they reference, and whether more follow this page."""
    if not channel_conditions:
        raise Invalid("invalid_filter", "filter_conditions (the channels to search) is required")
    if (query is None) == (message_conditions is None):
        raise Invalid("invalid_query", "give either query or message_filter_conditions")
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("invalid_limit", f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise Invalid("invalid_offset", f"offset must be between 0 and {MAX_OFFSET}")
    searchable = [t.name for t in await types.list_types(conn) if t.flag("search")]
    chan = select(channels.c.pk).where(
        channels.c.deleted_at.is_(None), channels.c.type.in_(searchable),
        filters.compile_filter(channel_conditions, channel_filter_fields(actor), custom=channels.c.custom),
    )
    if not actor.server:
        chan = chan.where(readable_by(actor))
    stmt = message_select().where(messages.c.channel_pk.in_(chan), messages.c.deleted_at.is_(None),
                                  messages.c.type != "system", seen_by(actor.user_id, server=actor.server))
    stmt = stmt.where(or_(channels.c.truncated_at.is_(None), messages.c.created_at > channels.c.truncated_at))
    if query is not None:
        stmt = stmt.where(_fulltext(conn, query))
    else:
        fields = _message_fields()
        q = (message_conditions or {}).get("text", {})
        if isinstance(q, Mapping) and "$q" in q:
            rest = {k: v for k, v in (message_conditions or {}).items() if k != "text"}
            stmt = stmt.where(_fulltext(conn, str(q["$q"])))
            message_conditions = rest
        stmt = stmt.where(filters.compile_filter(message_conditions, fields, custom=messages.c.custom))
    order = filters.compile_sort(sort or [("created_at", -1)], _message_fields(), custom=messages.c.custom)
    rows = await conn.execute(stmt.order_by(*order, messages.c.pk.desc()).limit(limit + 1).offset(offset))
    found = [message_from_row(r) for r in rows]
    views, users = await message_views(conn, found[:limit], actor.user_id)
    return views, users, len(found) > limit



