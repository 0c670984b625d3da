"""The follow graph and blocks. A block removes the follows between the two users both ways and
keeps them apart: neither can follow the other, nor sees the other in suggestions or search."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, func, or_, select, update

from townhall.core.accounts.tables import users
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.social import notifications
from townhall.core.social.tables import blocks, follows
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

MAX_FOLLOW_MULTIPLE = 100
NOTIFY_ALWAYS, NOTIFY_SOMETIMES, NOTIFY_NEVER = 1, 2, 3


def blocked_between(me: int, other_column: object) -> object:
    """SQL condition: a block exists between ``me`` and the user in ``other_column`` (either way)."""
    return exists().where(or_(
        and_(blocks.c.blocker_id == me, blocks.c.blocked_id == other_column),
        and_(blocks.c.blocker_id == other_column, blocks.c.blocked_id == me),
    ))


async def is_blocked_between(conn: Connection, a: int, b: int) -> bool:
    row = (await conn.execute(select(blocks.c.blocker_id).where(or_(
        and_(blocks.c.blocker_id == a, blocks.c.blocked_id == b),
        and_(blocks.c.blocker_id == b, blocks.c.blocked_id == a))).limit(1))).first()
    return row is not None


async def _check_target(conn: Connection, me: int, user_id: int) -> None:
    if user_id == me:
        raise Invalid("follow_self", "You can't follow yourself.")
    row = (await conn.execute(select(users.c.id).where(
        users.c.id == user_id, users.c.deleted_at.is_(None), users.c.deactivated_at.is_(None)))).first()
    if row is None:
        raise NotFound("user_not_found", "That user does not exist.")


async def do_follow(uow: UnitOfWork, me: int, user_id: int) -> bool:
    """Follow ``user_id`` (idempotent); notifies them the first time. True when newly followed."""
    await _check_target(uow.conn, me, user_id)
    if await is_blocked_between(uow.conn, me, user_id):
        raise Invalid("blocked", "You can't follow this user.")
    inserted = (await uow.conn.execute(insert_ignoring_conflicts(uow.conn, follows).values(
        follower_id=me, followee_id=user_id, notification_type=NOTIFY_SOMETIMES, created_at=now(),
    ).returning(follows.c.follower_id))).first()
    if inserted is None:
        return False
    await notifications.do_notify(uow, user_id=user_id, kind=notifications.FOLLOWS_YOU, actor_id=me)
    return True


async def do_follow_multiple(uow: UnitOfWork, me: int, user_ids: Sequence[int]) -> int:
    """Follow several users at once, skipping the ones that cannot be followed (blocked, gone)."""
    if len(user_ids) > MAX_FOLLOW_MULTIPLE:
        raise Invalid("too_many", f"You can follow at most {MAX_FOLLOW_MULTIPLE} people at once.")
    followed = 0
    for user_id in dict.fromkeys(user_ids):
        if user_id == me:
            continue
        try:
            followed += await do_follow(uow, me, user_id)
        except (Invalid, NotFound):
            continue
    return followed


async def do_unfollow(uow: UnitOfWork, me: int, user_id: int) -> None:
    await uow.conn.execute(delete(follows).where(follows.c.follower_id == me, follows.c.followee_id == user_id))


async def do_block(uow: UnitOfWork, me: int, user_id: int) -> None:
    if user_id == me:
        raise Invalid("block_self", "You can't block yourself.")
    row = (await uow.conn.execute(select(users.c.id).where(users.c.id == user_id))).first()
    if row is None:
        raise NotFound("user_not_found", "That user does not exist.")
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, blocks).values(
        blocker_id=me, blocked_id=user_id, created_at=now()))
    await uow.conn.execute(delete(follows).where(or_(
        and_(follows.c.follower_id == me, follows.c.followee_id == user_id),
        and_(follows.c.follower_id == user_id, follows.c.followee_id == me))))


async def do_unblock(uow: UnitOfWork, me: int, user_id: int) -> None:
    await uow.conn.execute(delete(blocks).where(blocks.c.blocker_id == me, blocks.c.blocked_id == user_id))


async def do_update_follow_notifications(uow: UnitOfWork, me: int, user_id: int, notification_type: int) -> None:
    if notification_type not in (NOTIFY_ALWAYS, NOTIFY_SOMETIMES, NOTIFY_NEVER):
        raise Invalid("invalid_notification_type", "notification_type must be 1 (always), 2 (sometimes) or 3 (never).")
    result = await uow.conn.execute(update(follows).where(
        follows.c.follower_id == me, follows.c.followee_id == user_id).values(notification_type=notification_type))
    if result.rowcount == 0:
        raise Invalid("not_following", "You don't follow this user.")


# -- reads


_LIVE = and_(users.c.deleted_at.is_(None), users.c.deactivated_at.is_(None))


async def _page(conn: Connection, stmt: object, id_column: object, limit: int, offset: int) -> tuple[list[int], int]:
    count = (await conn.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()  # type: ignore[attr-defined]
    rows = await conn.execute(stmt.order_by(id_column.desc()).limit(limit).offset(offset))  # type: ignore[attr-defined]
    return [r[0] for r in rows], int(count)


def _following_of(user_id: int) -> object:
    return (select(follows.c.followee_id, follows.c.created_at)
            .join(users, users.c.id == follows.c.followee_id).where(follows.c.follower_id == user_id, _LIVE))


def _followers_of(user_id: int) -> object:
    return (select(follows.c.follower_id, follows.c.created_at)
            .join(users, users.c.id == follows.c.follower_id).where(follows.c.followee_id == user_id, _LIVE))


async def following(conn: Connection, user_id: int, *, limit: int, offset: int) -> tuple[list[int], int]:
    """Whom ``user_id`` follows, most recently followed first, and how many."""
    return await _page(conn, _following_of(user_id), follows.c.created_at, limit, offset)


async def followers(conn: Connection, user_id: int, *, limit: int, offset: int) -> tuple[list[int], int]:
    return await _page(conn, _followers_of(user_id), follows.c.created_at, limit, offset)


async def mutual_follows(conn: Connection, me: int, user_id: int, *, limit: int, offset: int) -> tuple[list[int], int]:
    """People ``me`` follows who follow ``user_id``."""
    mine = select(follows.c.followee_id).where(follows.c.follower_id == me)
    stmt = _followers_of(user_id).where(follows.c.follower_id.in_(mine))  # type: ignore[attr-defined]
    return await _page(conn, stmt, follows.c.created_at, limit, offset)


async def following_ids(conn: Connection, user_id: int) -> list[int]:
    return list((await conn.execute(select(follows.c.followee_id).where(follows.c.follower_id == user_id))).scalars())


async def blocked_ids(conn: Connection, user_id: int) -> list[int]:
    return list((await conn.execute(select(blocks.c.blocked_id).where(blocks.c.blocker_id == user_id))).scalars())


@dataclass(frozen=True, slots=True)
class Counts:
    followers: int
    following: int


async def counts(conn: Connection, user_id: int) -> Counts:
    row = (await conn.execute(select(
        select(func.count()).select_from(_followers_of(user_id).subquery()).scalar_subquery(),  # type: ignore[attr-defined]
        select(func.count()).select_from(_following_of(user_id).subquery()).scalar_subquery(),  # type: ignore[attr-defined]
    ))).one()
    return Counts(followers=int(row[0]), following=int(row[1]))


@dataclass(frozen=True, slots=True)
class Relation:
    i_follow: bool
    follows_me: bool
    notification_type: int | None
    i_blocked: bool
    blocked_me: bool


async def relations(conn: Connection, me: int, others: Iterable[int]) -> dict[int, Relation]:
    ids = list(set(others))
    if not ids:
        return {}
    out_rows = await conn.execute(select(follows.c.followee_id, follows.c.notification_type).where(
        follows.c.follower_id == me, follows.c.followee_id.in_(ids)))
    i_follow = {r[0]: r[1] for r in out_rows}
    follows_me = set((await conn.execute(select(follows.c.follower_id).where(
        follows.c.followee_id == me, follows.c.follower_id.in_(ids)))).scalars())
    i_blocked = set((await conn.execute(select(blocks.c.blocked_id).where(
        blocks.c.blocker_id == me, blocks.c.blocked_id.in_(ids)))).scalars())
    blocked_me = set((await conn.execute(select(blocks.c.blocker_id).where(
        blocks.c.blocked_id == me, blocks.c.blocker_id.in_(ids)))).scalars())
    return {i: Relation(i in i_follow, i in follows_me, i_follow.get(i), i in i_blocked, i in blocked_me) for i in ids}
