"""Whom to follow, ranked (never random), never someone blocked either way, already followed,
dismissed (ignore_suggested_follow), waitlisted, banned or gone.

Scores add up what the graph says about a candidate: follows you (+5), is in your uploaded
contacts (+4), followed by people you follow (+3 each); for "similar": followed by the followers of
the user looked at (+3 each) or by that user (+2), in a club with them (+2 each), sharing a topic
with them (+1 each). Popularity (followers), then the newest account,
break ties.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, func, literal, or_, select, union_all

from townhall.core.accounts.signin import PHONE
from townhall.core.accounts.tables import identities, profiles, users
from townhall.core.social.graph import blocked_between
from townhall.core.social.tables import contacts, follows, ignored_suggestions
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts


def _eligible(me: int, uid: object) -> list[object]:
    return [
        uid != me,
        users.c.deleted_at.is_(None), users.c.deactivated_at.is_(None), users.c.banned.is_(False),
        profiles.c.waitlisted.is_(False),
        ~exists().where(follows.c.follower_id == me, follows.c.followee_id == uid),
        ~exists().where(ignored_suggestions.c.user_id == me, ignored_suggestions.c.ignored_id == uid),
        ~blocked_between(me, uid),
    ]


def _contacts_of(me: int, given: Sequence[str] = ()) -> object:
    """People whose number is in my kept contacts or in ``given`` (contacts sent but not kept)."""
    kept = select(contacts.c.phone).where(contacts.c.owner_id == me)
    return (select(identities.c.user_id.label("uid"), literal(4).label("score"))
            .where(identities.c.kind == PHONE,
                   or_(identities.c.value.in_(kept), identities.c.value.in_(list(given) or [""]))))


async def _ranked(conn: Connection, me: int, parts: list[object], *, limit: int, offset: int,
                  with_popularity: bool) -> tuple[list[int], int]:
    scored = union_all(*parts).subquery()  # type: ignore[arg-type]
    uid = scored.c.uid
    popularity = (select(func.count()).where(follows.c.followee_id == users.c.id).scalar_subquery())
    base = (select(users.c.id, func.sum(scored.c.score).label("score"))
            .select_from(scored.join(users, users.c.id == uid).join(profiles, profiles.c.user_id == users.c.id))
            .where(*_eligible(me, users.c.id)).group_by(users.c.id))
    count = (await conn.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    order = [func.sum(scored.c.score).desc()]
    if with_popularity:
        order.append(popularity.desc())
    rows = await conn.execute(base.order_by(*order, users.c.id.desc()).limit(limit).offset(offset))
    return [r[0] for r in rows], int(count)


async def suggested_all(conn: Connection, me: int, *, limit: int, offset: int) -> tuple[list[int], int]:
    """Everyone eligible, the best connected to ``me`` first (onboarding's "people to follow")."""
    mine = select(follows.c.followee_id).where(follows.c.follower_id == me)
    parts = [
        select(users.c.id.label("uid"), literal(0).label("score")),
        select(follows.c.follower_id.label("uid"), literal(5).label("score")).where(follows.c.followee_id == me),
        _contacts_of(me),
        select(follows.c.followee_id.label("uid"), literal(3).label("score")).where(follows.c.follower_id.in_(mine)),
    ]
    return await _ranked(conn, me, parts, limit=limit, offset=offset, with_popularity=True)


async def suggested_friends(conn: Connection, me: int, *, given: Sequence[str] = (), limit: int = 200) -> list[int]:
    """People here whose numbers are in my contacts (kept, or ``given`` with this request), those
    my friends follow first."""
    mine = select(follows.c.followee_id).where(follows.c.follower_id == me)
    friends = _contacts_of(me, given).subquery()  # type: ignore[attr-defined]
    parts = [
        select(friends.c.uid, friends.c.score),
        select(follows.c.followee_id.label("uid"), literal(1).label("score")).where(
            follows.c.follower_id.in_(mine), follows.c.followee_id.in_(select(friends.c.uid))),
    ]
    ids, _ = await _ranked(conn, me, parts, limit=limit, offset=0, with_popularity=True)
    return ids


async def suggested_similar(conn: Connection, me: int, user_id: int, *, limit: int = 50) -> list[int]:
    """People like ``user_id``: followed by the same people, followed by them, or sharing their
    topics and clubs."""
    from townhall.core.communities.tables import community_members
    from townhall.core.social.tables import user_topics

    their_followers = select(follows.c.follower_id).where(follows.c.followee_id == user_id)
    their_topics = select(user_topics.c.topic_id).where(user_topics.c.user_id == user_id)
    their_clubs = select(community_members.c.community_id).where(community_members.c.user_id == user_id)
    co = follows.alias("co")
    parts = [
        select(co.c.followee_id.label("uid"), literal(3).label("score")).where(co.c.follower_id.in_(their_followers)),
        select(follows.c.followee_id.label("uid"), literal(2).label("score")).where(follows.c.follower_id == user_id),
        select(user_topics.c.user_id.label("uid"), literal(1).label("score")).where(
            user_topics.c.topic_id.in_(their_topics)),
        select(community_members.c.user_id.label("uid"), literal(2).label("score")).where(
            community_members.c.community_id.in_(their_clubs)),
    ]
    ids, _ = await _ranked(conn, me, parts, limit=limit + 1, offset=0, with_popularity=True)
    return [i for i in ids if i != user_id][:limit]


async def do_ignore(uow: UnitOfWork, me: int, user_id: int) -> None:
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, ignored_suggestions).values(
        user_id=me, ignored_id=user_id))
