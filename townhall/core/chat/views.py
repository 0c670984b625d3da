"""Assemble what a reader sees with messages: latest/own reactions, quoted messages, users."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select

from townhall.core.accounts.service import get_users
from townhall.core.chat.models import Member, Message, MessageView, Reaction, Users
from townhall.core.chat.store import get_messages, reaction_from_row
from townhall.core.chat.tables import reactions
from townhall.db.database import Connection

LATEST_REACTIONS = 10


def referenced_user_ids(msg: Message) -> set[int]:
    ids = {i for i in (msg.user_id, msg.pinned_by_id) if i is not None}
    ids.update(msg.mentioned_user_ids)
    ids.update(msg.thread_participant_ids)
    ids.update(msg.restricted_visibility or ())
    return ids


async def message_views(
    conn: Connection, msgs: Sequence[Message], viewer_id: int | None, users: Users | None = None
) -> tuple[list[MessageView], Users]:
    users = users if users is not None else Users()
    if not msgs:
        return [], users
    by_pk = {m.pk: m for m in msgs}
    latest: dict[int, list[Reaction]] = {pk: [] for pk in by_pk}
    own: dict[int, list[Reaction]] = {pk: [] for pk in by_pk}
    with_reactions = [m.pk for m in msgs if m.reaction_counts]
    if with_reactions:
        ranked = select(
            reactions,
            func.row_number().over(partition_by=reactions.c.message_pk,
                                   order_by=reactions.c.created_at.desc()).label("rank"),
        ).where(reactions.c.message_pk.in_(with_reactions)).subquery()
        rows = await conn.execute(select(ranked).where(ranked.c.rank <= LATEST_REACTIONS))
        for row in rows:
            latest[row.message_pk].append(reaction_from_row(row, by_pk[row.message_pk].id))
        if viewer_id is not None:
            rows = await conn.execute(
                select(reactions).where(reactions.c.message_pk.in_(with_reactions),
                                        reactions.c.user_id == viewer_id)
                .order_by(reactions.c.created_at.desc())
            )
            for row in rows:
                own[row.message_pk].append(reaction_from_row(row, by_pk[row.message_pk].id))
    quoted_ids = [m.quoted_message_id for m in msgs if m.quoted_message_id]
    quoted = {q.id: q for q in await get_messages(conn, quoted_ids)}
    wanted: set[int] = set()
    for m in list(msgs) + list(quoted.values()):
        wanted |= referenced_user_ids(m)
    for group in latest.values():
        wanted.update(r.user_id for r in group)
    await load_users(conn, users, wanted)
    views = [
        MessageView(message=m, latest_reactions=latest[m.pk], own_reactions=own[m.pk],
                    quoted=quoted.get(m.quoted_message_id) if m.quoted_message_id else None)
        for m in msgs
    ]
    return views, users


async def load_users(conn: Connection, users: Users, ids: Iterable[int]) -> Users:
    missing = {i for i in ids if i is not None and i not in users.by_id}
    if missing:
        users.add(*(await get_users(conn, missing)).values())
    return users


async def member_users(conn: Connection, users: Users, mems: Iterable[Member]) -> Users:
    return await load_users(conn, users, (m.user_id for m in mems))
