"""Topics: a two-level tree (categories and their topics) people and clubs are tagged with.

The tree is data, seeded by migration 0007; users pick topics (``add_user_topic``) and clubs are
tagged by their admins (``townhall.core.communities.service``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select

from townhall.core.accounts.tables import users
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.fields import check_positive_id
from townhall.core.social.tables import topics, user_topics
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

MAX_USER_TOPICS = 50

@dataclass(frozen=True, slots=True)
class Topic:
    id: int
    title: str
    abbreviated_title: str
    parent_id: int | None = None
    children: list[Topic] = field(default_factory=list)


_SELECT = select(topics.c.id, topics.c.title, topics.c.abbreviated_title, topics.c.parent_id)


def _topic(row: object) -> Topic:
    return Topic(id=row.id, title=row.title, abbreviated_title=row.abbreviated_title,  # type: ignore[attr-defined]
                 parent_id=row.parent_id)  # type: ignore[attr-defined]


def check_topic_id(value: object) -> int:
    """A topic id as clients send it (``fields.check_positive_id``)."""
    return check_positive_id(value, "topic_id")


async def get_all_topics(conn: Connection) -> list[Topic]:
    """The tree: categories in order, each with its topics."""
    rows = (await conn.execute(_SELECT.order_by(topics.c.position, topics.c.id))).all()
    roots = [_topic(r) for r in rows if r.parent_id is None]
    by_id = {t.id: t for t in roots}
    for row in rows:
        if row.parent_id is not None and row.parent_id in by_id:
            by_id[row.parent_id].children.append(_topic(row))
    return roots


async def get_topics(conn: Connection, ids: Iterable[int]) -> dict[int, Topic]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (await conn.execute(_SELECT.where(topics.c.id.in_(wanted)))).all()
    return {r.id: _topic(r) for r in rows}


async def get_topic(conn: Connection, topic_id: int) -> Topic:
    found = await get_topics(conn, [topic_id])
    if topic_id not in found:
        raise NotFound("topic_not_found", "This topic does not exist.")
    return found[topic_id]


async def topics_of_user(conn: Connection, user_id: int) -> list[Topic]:
    rows = (await conn.execute(
        _SELECT.join(user_topics, user_topics.c.topic_id == topics.c.id)
        .where(user_topics.c.user_id == user_id)
        .order_by(topics.c.position, topics.c.id)
    )).all()
    return [_topic(r) for r in rows]


async def get_users_for_topic(conn: Connection, topic_id: int, *, limit: int, offset: int) -> tuple[list[int], int]:
    """Ids of the active users who picked the topic (most recent first) and how many there are."""
    await get_topic(conn, topic_id)
    where = (user_topics.c.topic_id == topic_id, users.c.deleted_at.is_(None), users.c.deactivated_at.is_(None))
    joined = user_topics.join(users, users.c.id == user_topics.c.user_id)
    count = (await conn.execute(select(func.count()).select_from(joined).where(*where))).scalar_one()
    ids = (await conn.execute(
        select(user_topics.c.user_id).select_from(joined).where(*where)
        .order_by(user_topics.c.created_at.desc(), user_topics.c.user_id).limit(limit).offset(offset)
    )).scalars().all()
    return list(ids), count


async def do_add_user_topic(uow: UnitOfWork, user_id: int, topic_id: int) -> Topic:
    """Idempotent: adding a topic twice keeps one."""
    topic = await get_topic(uow.conn, topic_id)
    exists = (await uow.conn.execute(select(user_topics.c.topic_id).where(
        user_topics.c.user_id == user_id, user_topics.c.topic_id == topic_id))).first()
    if exists is None:
        count = (await uow.conn.execute(
            select(func.count()).select_from(user_topics).where(user_topics.c.user_id == user_id))).scalar_one()
        if count >= MAX_USER_TOPICS:
            raise Invalid("too_many_topics", f"You can pick at most {MAX_USER_TOPICS} topics.")
        await uow.conn.execute(insert_ignoring_conflicts(uow.conn, user_topics).values(
            user_id=user_id, topic_id=topic_id, created_at=now()))
    return topic


async def do_remove_user_topic(uow: UnitOfWork, user_id: int, topic_id: int) -> None:
    """Idempotent: removing a topic the user does not have succeeds."""
    await get_topic(uow.conn, topic_id)
    await uow.conn.execute(delete(user_topics).where(
        user_topics.c.user_id == user_id, user_topics.c.topic_id == topic_id))
