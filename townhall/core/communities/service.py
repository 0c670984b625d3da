"""Clubs: creation, follows, membership (admins, members, invites, nominations), settings, topics.

Rules (the one place they live):
- anyone signed in may create a club; its creator is its first admin;
- only admins manage a club (settings, topics, admins, invites, nominations, removing others);
- a member who is not an admin may nominate people; an admin approves (the nominee is then
  invited) or rejects; an invitee becomes a member by accepting;
- a member may leave; the last admin may neither leave nor lose the admin role;
- a club that does not allow follows cannot be followed (its members still see it);
- the members of a club with private membership are listed to its members only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from townhall.core import fields
from townhall.core.accounts.signin import PHONE
from townhall.core.accounts.tables import identities, users
from townhall.core.clock import now
from townhall.core.communities.models import ADMIN, INVITED, MEMBER, NOMINATED, Club, ClubMember, Nomination, Relation
from townhall.core.communities.tables import (
    communities,
    community_followers,
    community_invites,
    community_members,
    community_topics,
)
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.fields import check_positive_id, check_title
from townhall.core.filters import like_escape
from townhall.core.fulltext import club_condition, words_of
from townhall.core.social import notifications
from townhall.core.social.tables import contacts, follows
from townhall.core.social.topics import Topic, get_topic, topics
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

MAX_NAME = 100
MAX_DESCRIPTION = 1000
MAX_RULES = 10
MAX_RULE_TITLE = 100
MAX_RULE_DESC = 500
MAX_CLUB_TOPICS = 5
MAX_SEARCH_QUERY = 200
MAX_LIST = 200  # unpaginated lists (a user's clubs, a club's nominations) stop there
CLUB_NAME_TAKEN = "A club with this name already exists."
FLAGS = ("is_follow_allowed", "is_membership_private", "is_community")

_m, _f = community_members.alias("counted_members"), community_followers.alias("counted_followers")
_num_members = (
    select(func.count()).select_from(_m).where(_m.c.community_id == communities.c.id)
    .correlate(communities).scalar_subquery()
).label("num_members")
_num_followers = (
    select(func.count()).select_from(_f).where(_f.c.community_id == communities.c.id)
    .correlate(communities).scalar_subquery()
).label("num_followers")
_CLUB_SELECT = select(communities, _num_members, _num_followers)


def _club(row: Any) -> Club:
    return Club(
        id=row.id, name=row.name, description=row.description or "", photo_url=row.photo_url,
        rules=list(row.rules or []), is_follow_allowed=row.is_follow_allowed,
        is_membership_private=row.is_membership_private, is_community=row.is_community,
        enable_private=row.enable_private, created_by_id=row.created_by_id, created_at=row.created_at,
        num_members=int(row.num_members or 0), num_followers=int(row.num_followers or 0),
    )


# -- checks


def check_id(value: Any, name: str = "club_id") -> int:
    """An id as clients send it (``fields.check_positive_id``)."""
    return check_positive_id(value, name)


def check_name(value: Any) -> str:
    return check_title(value, code="invalid_club_name", what="A club", max_length=MAX_NAME)


def check_description(value: Any) -> str:
    return fields.check_description(value, what="A club", max_length=MAX_DESCRIPTION)


def check_rules(value: Any) -> list[dict[str, str]]:
    """Rules as clients send them: ``[{"title": ..., "desc": ...}]`` (at most MAX_RULES)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid("invalid_rules", "rules must be a list of {title, desc}", field="rules")
    if len(value) > MAX_RULES:
        raise Invalid("invalid_rules", f"A club has at most {MAX_RULES} rules.", field="rules")
    out = []
    for rule in value:
        if not isinstance(rule, Mapping):
            raise Invalid("invalid_rules", "each rule must be an object {title, desc}", field="rules")
        title, desc = rule.get("title"), rule.get("desc", "")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_RULE_TITLE:
            raise Invalid("invalid_rules", f"each rule needs a title of at most {MAX_RULE_TITLE} characters",
                          field="rules")
        if desc is None:
            desc = ""
        if not isinstance(desc, str) or len(desc) > MAX_RULE_DESC:
            raise Invalid("invalid_rules", f"a rule's desc is a string of at most {MAX_RULE_DESC} characters",
                          field="rules")
        out.append({"title": title.strip(), "desc": desc.strip()})
    return out


def check_flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise Invalid(f"invalid_{name}", f"{name} must be a boolean", field=name)


# -- reads


async def get_clubs(conn: Connection, ids: Iterable[int]) -> dict[int, Club]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (await conn.execute(_CLUB_SELECT.where(communities.c.id.in_(wanted)))).all()
    return {r.id: _club(r) for r in rows}


async def access_club(conn: Connection, club_id: int) -> Club:
    """The club; every signed-in user may see a club (its name, description, counts)."""
    found = await get_clubs(conn, [club_id])
    if club_id not in found:
        raise NotFound("club_not_found", "This club does not exist.")
    return found[club_id]


async def relations(conn: Connection, club_ids: Iterable[int], user_id: int) -> dict[int, Relation]:
    """What ``user_id`` is to each club (a default Relation for clubs they have nothing to do with)."""
    ids = list(set(club_ids))
    out = {i: Relation() for i in ids}
    if not ids:
        return out
    roles = {r.community_id: (r.role, r.added_by_id) for r in await conn.execute(
        select(community_members.c.community_id, community_members.c.role, community_members.c.added_by_id)
        .where(community_members.c.user_id == user_id, community_members.c.community_id.in_(ids)))}
    followed = set((await conn.execute(select(community_followers.c.community_id).where(
        community_followers.c.user_id == user_id, community_followers.c.community_id.in_(ids)))).scalars())
    invites = {r.community_id: (r.status, r.invited_by_id) for r in await conn.execute(
        select(community_invites.c.community_id, community_invites.c.status, community_invites.c.invited_by_id)
        .where(community_invites.c.user_id == user_id, community_invites.c.community_id.in_(ids)))}
    for i in ids:
        role, added_by = roles.get(i, (None, None))
        status, invited_by = invites.get(i, (None, None))
        out[i] = Relation(role=role, is_follower=i in followed, invite_status=status,
                          invited_by_id=added_by if role else invited_by)
    return out


async def relation(conn: Connection, club_id: int, user_id: int) -> Relation:
    return (await relations(conn, [club_id], user_id))[club_id]


async def check_admin(conn: Connection, club_id: int, user_id: int) -> Club:
    club = await access_club(conn, club_id)
    if not (await relation(conn, club_id, user_id)).is_admin:
        raise Forbidden("not_club_admin", "Only the club's admins can do that.")
    return club


async def _admin_ids(conn: Connection, club_id: int) -> list[int]:
    return list((await conn.execute(select(community_members.c.user_id).where(
        community_members.c.community_id == club_id, community_members.c.role == ADMIN)
        .order_by(community_members.c.created_at))).scalars())


async def member_ids(conn: Connection, club_id: int, limit: int = 50) -> list[int]:
    return list((await conn.execute(select(community_members.c.user_id).where(
        community_members.c.community_id == club_id).order_by(
        community_members.c.created_at, community_members.c.user_id).limit(limit))).scalars())


async def member_ids_of_clubs(conn: Connection, club_ids: Iterable[int], limit: int = 50) -> dict[int, list[int]]:
    """``member_ids`` of several clubs in one query: each club's first ``limit`` members, oldest
    membership first (every club asked for is in the answer, with [] when it has none)."""
    wanted = list({int(i) for i in club_ids})
    if not wanted:
        return {}
    m = community_members.c
    rank = func.row_number().over(partition_by=m.community_id, order_by=(m.created_at, m.user_id)).label("rank")
    ranked = select(m.community_id, m.user_id, rank).where(m.community_id.in_(wanted)).subquery()
    rows = await conn.execute(select(ranked.c.community_id, ranked.c.user_id).where(ranked.c.rank <= limit)
                              .order_by(ranked.c.community_id, ranked.c.rank))
    found: dict[int, list[int]] = {club_id: [] for club_id in wanted}
    for row in rows:
        found[row.community_id].append(row.user_id)
    return found


async def clubs_of_user(conn: Connection, user_id: int, *, limit: int = MAX_LIST) -> list[Club]:
    """The clubs a user is a member of (admins first, then oldest membership first), at most ``limit``."""
    return await clubs_for_user(conn, user_id, limit=limit)


async def clubs_for_user(conn: Connection, user_id: int, *, admin_only: bool = False,
                         limit: int = MAX_LIST) -> list[Club]:
    where = [community_members.c.user_id == user_id]
    if admin_only:
        where.append(community_members.c.role == ADMIN)
    rows = (await conn.execute(
        _CLUB_SELECT.join(community_members, community_members.c.community_id == communities.c.id)
        .where(*where).order_by((community_members.c.role == ADMIN).desc(), community_members.c.created_at,
                                communities.c.id).limit(limit)
    )).all()
    return [_club(r) for r in rows]


async def followed_clubs(conn: Connection, user_id: int, *, limit: int, offset: int) -> tuple[list[Club], int]:
    where = community_followers.c.user_id == user_id
    count = (await conn.execute(select(func.count()).select_from(community_followers).where(where))).scalar_one()
    rows = (await conn.execute(
        _CLUB_SELECT.join(community_followers, community_followers.c.community_id == communities.c.id)
        .where(where).order_by(community_followers.c.created_at.desc(), communities.c.id)
        .limit(limit).offset(offset))).all()
    return [_club(r) for r in rows], int(count)


async def topics_of_club(conn: Connection, club_id: int) -> list[Topic]:
    rows = (await conn.execute(
        select(topics.c.id, topics.c.title, topics.c.abbreviated_title, topics.c.parent_id)
        .join(community_topics, community_topics.c.topic_id == topics.c.id)
        .where(community_topics.c.community_id == club_id).order_by(topics.c.position, topics.c.id))).all()
    return [Topic(id=r.id, title=r.title, abbreviated_title=r.abbreviated_title, parent_id=r.parent_id)
            for r in rows]


async def clubs_for_topic(conn: Connection, topic_id: int, *, limit: int, offset: int) -> tuple[list[Club], int]:
    """Clubs tagged with the topic, the most followed first."""
    await get_topic(conn, topic_id)
    where = communities.c.id.in_(select(community_topics.c.community_id).where(
        community_topics.c.topic_id == topic_id))
    count = (await conn.execute(select(func.count()).select_from(communities).where(where))).scalar_one()
    rows = (await conn.execute(_CLUB_SELECT.where(where).order_by(
        _num_followers.desc(), communities.c.id).limit(limit).offset(offset))).all()
    return [_club(r) for r in rows], int(count)


async def club_members(
    conn: Connection, viewer_id: int, club_id: int, *, return_members: bool = True,
    return_followers: bool = False, limit: int, offset: int,
) -> tuple[list[ClubMember], int]:
    """Members (admins first) and/or followers of a club; private memberships only to members."""
    club = await access_club(conn, club_id)
    if club.is_membership_private and not (await relation(conn, club_id, viewer_id)).is_member:
        raise Forbidden("club_membership_private", "The members of this club are private.")
    m, f = community_members.alias("m"), community_followers.alias("f")
    parts = []
    if return_members:
        parts.append(select(m.c.user_id.label("user_id"), m.c.created_at.label("since"))
                     .where(m.c.community_id == club_id))
    if return_followers:
        parts.append(select(f.c.user_id.label("user_id"), f.c.created_at.label("since"))
                     .where(f.c.community_id == club_id))
    if not parts:
        return [], 0
    union = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    people = union.subquery("people")
    joined = people.join(users, users.c.id == people.c.user_id)
    active = and_(users.c.deleted_at.is_(None), users.c.deactivated_at.is_(None))
    count = (await conn.execute(select(func.count(func.distinct(people.c.user_id))).select_from(joined)
                                .where(active))).scalar_one()
    role = select(community_members.c.role).where(
        community_members.c.community_id == club_id,
        community_members.c.user_id == people.c.user_id).scalar_subquery()
    is_follower = exists().where(community_followers.c.community_id == club_id,
                                 community_followers.c.user_id == people.c.user_id)
    rank = func.coalesce((role == ADMIN), False)
    rows = (await conn.execute(
        select(people.c.user_id, func.min(people.c.since).label("since"), role.label("role"),
               is_follower.label("is_follower"))
        .select_from(joined).where(active).group_by(people.c.user_id)
        .order_by(rank.desc(), func.min(people.c.since), people.c.user_id).limit(limit).offset(offset))).all()
    return [ClubMember(user_id=r.user_id, is_admin=r.role == ADMIN, is_member=r.role is not None,
                       is_follower=bool(r.is_follower), since=r.since) for r in rows], int(count)


async def search_clubs(
    conn: Connection, viewer_id: int, query: Any, *, following_only: bool = False, followers_only: bool = False,
    cofollows_only: bool = False, limit: int, offset: int,
) -> tuple[list[Club], int]:
    """Clubs whose name or description has every word of ``query`` (case-insensitive; each word
    a prefix: "ja" finds "Jazz"), on the database's full-text engine (``core/fulltext.py``). A
    blank query finds every club; one with no word (only signs) finds none.

    ``following_only``: clubs the viewer follows or is in; ``followers_only``: clubs followed by
    people who follow the viewer; ``cofollows_only``: clubs followed by people the viewer follows.
    """
    if query is None:
        query = ""
    if not isinstance(query, str):
        raise Invalid("invalid_query", "query must be a string", field="query")
    tokens = query.split()
    if len(query) > MAX_SEARCH_QUERY:
        raise Invalid("invalid_query", f"query is at most {MAX_SEARCH_QUERY} characters", field="query")
    if tokens and not words_of(query):
        return [], 0
    where: list[Any] = [club_condition(conn, communities.c.id, words_of(query))] if tokens else []
    if following_only:
        where.append(or_(
            communities.c.id.in_(select(community_followers.c.community_id).where(
                community_followers.c.user_id == viewer_id)),
            communities.c.id.in_(select(community_members.c.community_id).where(
                community_members.c.user_id == viewer_id))))
    if followers_only:
        where.append(communities.c.id.in_(select(community_followers.c.community_id).where(
            community_followers.c.user_id.in_(select(follows.c.follower_id).where(
                follows.c.followee_id == viewer_id)))))
    if cofollows_only:
        where.append(communities.c.id.in_(select(community_followers.c.community_id).where(
            community_followers.c.user_id.in_(select(follows.c.followee_id).where(
                follows.c.follower_id == viewer_id)))))
    count = (await conn.execute(select(func.count()).select_from(communities).where(*where))).scalar_one()
    # Names starting with the query's first word as typed first, then with its first word (letters
    # and digits), then the most followed.
    name = func.lower(communities.c.name)
    starts = case((name.like(f"{like_escape(tokens[0].lower())}%", escape="\\"), 0),
                  (name.like(f"{like_escape(words_of(query)[0])}%", escape="\\"), 1), else_=2) if tokens else None
    order = ([starts] if starts is not None else []) + [_num_followers.desc(), _num_members.desc(), communities.c.id]
    rows = (await conn.execute(_CLUB_SELECT.where(*where).order_by(*order).limit(limit).offset(offset))).all()
    return [_club(r) for r in rows], int(count)


async def get_nominations(conn: Connection, actor_id: int, club_id: int, *,
                          limit: int = MAX_LIST) -> list[Nomination]:
    """The club's pending nominations (for its admins), oldest first, at most ``limit``."""
    await check_admin(conn, club_id, actor_id)
    rows = (await conn.execute(select(community_invites).where(
        community_invites.c.community_id == club_id, community_invites.c.status == NOMINATED)
        .order_by(community_invites.c.id).limit(limit))).all()
    return [Nomination(id=r.id, club_id=r.community_id, user_id=r.user_id, nominated_by_id=r.invited_by_id,
                       message=r.message, created_at=r.created_at) for r in rows]


async def suggested_club_invites(conn: Connection, owner_id: int, *, club_id: int | None = None,
                                 limit: int = 200) -> list[tuple[int, str, str | None]]:
    """People of the owner's uploaded contacts who are here (``(user_id, phone, contact name)``),
    leaving out members of ``club_id``: whom the owner might bring into a club."""
    stmt = (select(identities.c.user_id, contacts.c.phone, contacts.c.name)
            .join(identities, and_(identities.c.kind == PHONE, identities.c.value == contacts.c.phone))
            .join(users, users.c.id == identities.c.user_id)
            .where(contacts.c.owner_id == owner_id, identities.c.user_id != owner_id, users.c.deleted_at.is_(None)))
    if club_id is not None:
        stmt = stmt.where(identities.c.user_id.not_in(select(community_members.c.user_id).where(
            community_members.c.community_id == club_id)))
    rows = (await conn.execute(stmt.order_by(contacts.c.name, contacts.c.phone).limit(limit))).all()
    return [(r.user_id, r.phone, r.name) for r in rows]


# -- writes


async def do_create_club(
    uow: UnitOfWork, creator_id: int, *, name: Any, description: Any = None, rules: Any = None,
    is_follow_allowed: Any = True, is_membership_private: Any = False, is_community: Any = False,
    topic_ids: Sequence[int] = (),
) -> Club:
    name = check_name(name)
    values = {
        "description": check_description(description),
        "rules": check_rules(rules),
        "is_follow_allowed": check_flag(is_follow_allowed, "is_follow_allowed"),
        "is_membership_private": check_flag(is_membership_private, "is_membership_private"),
        "is_community": check_flag(is_community, "is_community"),
    }
    if len(set(topic_ids)) > MAX_CLUB_TOPICS:
        raise Invalid("too_many_topics", f"A club has at most {MAX_CLUB_TOPICS} topics.", field="topic_ids")
    for topic_id in set(topic_ids):
        await get_topic(uow.conn, topic_id)
    key = name.lower()
    taken = (await uow.conn.execute(select(communities.c.id).where(communities.c.name_key == key))).first()
    if taken is not None:
        raise Conflict("club_name_taken", CLUB_NAME_TAKEN)
    stamp = now()
    try:
        club_id = (await uow.conn.execute(insert(communities).values(
            name=name, name_key=key, enable_private=True, created_by_id=creator_id, created_at=stamp,
            updated_at=stamp, **values).returning(communities.c.id))).scalar_one()
    except IntegrityError as exc:  # taken a moment ago by another process (unique name_key)
        raise Conflict("club_name_taken", CLUB_NAME_TAKEN) from exc
    await uow.conn.execute(insert(community_members).values(
        community_id=club_id, user_id=creator_id, role=ADMIN, added_by_id=None, created_at=stamp))
    await uow.conn.execute(insert(community_followers).values(community_id=club_id, user_id=creator_id,
                                                              created_at=stamp))
    for topic_id in sorted(set(topic_ids)):
        await uow.conn.execute(insert(community_topics).values(community_id=club_id, topic_id=topic_id))
    return await access_club(uow.conn, club_id)


async def do_update_club(uow: UnitOfWork, actor_id: int, club_id: int, **changes: Any) -> Club:
    """Admins change ``description``, ``rules`` or the flags (FLAGS)."""
    await check_admin(uow.conn, club_id, actor_id)
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "description":
            values[key] = check_description(value)
        elif key == "rules":
            values[key] = check_rules(value)
        elif key in FLAGS:
            values[key] = check_flag(value, key)
        else:
            raise Invalid("invalid_field", f"a club has no changeable field {key}")
    if values:
        await uow.conn.execute(update(communities).where(communities.c.id == club_id).values(
            **values, updated_at=now()))
    return await access_club(uow.conn, club_id)


async def do_follow_club(uow: UnitOfWork, user_id: int, club_id: int) -> Club:
    """Idempotent. Admins hear of new followers (kind 10)."""
    club = await access_club(uow.conn, club_id)
    rel = await relation(uow.conn, club_id, user_id)
    if rel.is_follower:
        return club
    if not club.is_follow_allowed and not rel.is_member:
        raise Forbidden("club_follow_not_allowed", "This club cannot be followed.")
    added = await uow.conn.execute(insert_ignoring_conflicts(uow.conn, community_followers).values(
        community_id=club_id, user_id=user_id, created_at=now()))
    if added.rowcount == 0:  # a concurrent retry got there first
        return club
    for admin_id in await _admin_ids(uow.conn, club_id):
        await notifications.do_notify(uow, user_id=admin_id, kind=notifications.FOLLOWED_CLUB, actor_id=user_id,
                                      club_id=club_id)
    return await access_club(uow.conn, club_id)


async def do_unfollow_club(uow: UnitOfWork, user_id: int, club_id: int) -> Club:
    """Idempotent."""
    await access_club(uow.conn, club_id)
    await uow.conn.execute(delete(community_followers).where(
        community_followers.c.community_id == club_id, community_followers.c.user_id == user_id))
    return await access_club(uow.conn, club_id)


async def _user_exists(conn: Connection, user_id: int) -> None:
    row = (await conn.execute(select(users.c.id).where(
        users.c.id == user_id, users.c.deleted_at.is_(None)))).first()
    if row is None:
        raise NotFound("user_not_found", "This user does not exist.")


async def _join(uow: UnitOfWork, club_id: int, user_id: int, added_by_id: int | None) -> None:
    await uow.conn.execute(delete(community_invites).where(
        community_invites.c.community_id == club_id, community_invites.c.user_id == user_id))
    joined = await uow.conn.execute(insert_ignoring_conflicts(uow.conn, community_members).values(
        community_id=club_id, user_id=user_id, role=MEMBER, added_by_id=added_by_id, created_at=now()))
    if joined.rowcount == 0:  # a concurrent retry got there first
        return
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, community_followers).values(  # members follow
        community_id=club_id, user_id=user_id, created_at=now()))
    await notifications.do_resolve_actionable(uow, user_id, kind=notifications.INVITED_TO_CLUB, club_id=club_id)
    for admin_id in await _admin_ids(uow.conn, club_id):
        await notifications.do_notify(uow, user_id=admin_id, kind=notifications.JOINED_CLUB, actor_id=user_id,
                                      club_id=club_id)


async def _invite(uow: UnitOfWork, club_id: int, user_id: int, by_id: int, status: str,
                  message: str | None) -> None:
    added = await uow.conn.execute(insert_ignoring_conflicts(uow.conn, community_invites).values(
        community_id=club_id, user_id=user_id, invited_by_id=by_id, status=status, message=message,
        created_at=now()))
    if added.rowcount == 0:  # invited or nominated before (maybe a moment ago, by a concurrent request)
        await uow.conn.execute(update(community_invites).where(
            community_invites.c.community_id == club_id, community_invites.c.user_id == user_id,
        ).values(status=status, invited_by_id=by_id, message=message))
    if status == INVITED:
        await notifications.do_notify(uow, user_id=user_id, kind=notifications.INVITED_TO_CLUB, actor_id=by_id,
                                      club_id=club_id, message=message or "")


async def do_add_member(uow: UnitOfWork, actor_id: int, club_id: int, user_id: int,
                        message: Any = None) -> Relation:
    """An admin invites ``user_id`` (who then accepts); a member nominates them (an admin approves).

    Idempotent: adding someone who is a member, invited or nominated changes nothing (except that an
    admin's add turns a pending nomination into an invite). Answers the user's relation to the club.
    """
    await access_club(uow.conn, club_id)
    if message is not None and not isinstance(message, str):
        raise Invalid("invalid_message", "message must be a string", field="message")
    actor = await relation(uow.conn, club_id, actor_id)
    if not actor.is_member:
        raise Forbidden("not_club_member", "Only the club's members can add people to it.")
    await _user_exists(uow.conn, user_id)
    target = await relation(uow.conn, club_id, user_id)
    if target.is_member or target.is_pending_accept:
        return target
    if actor.is_admin:
        await _invite(uow, club_id, user_id, actor_id, INVITED, message)
    elif not target.is_pending_approval:
        await _invite(uow, club_id, user_id, actor_id, NOMINATED, message)
    return await relation(uow.conn, club_id, user_id)


async def do_accept_invite(uow: UnitOfWork, user_id: int, club_id: int) -> Club:
    """The invitee joins. Idempotent for members; refused without an invite."""
    await access_club(uow.conn, club_id)
    rel = await relation(uow.conn, club_id, user_id)
    if rel.is_member:
        return await access_club(uow.conn, club_id)
    if not rel.is_pending_accept:
        raise Forbidden("no_club_invite", "You have not been invited to this club.")
    await _join(uow, club_id, user_id, rel.invited_by_id)
    return await access_club(uow.conn, club_id)


async def _nomination(conn: Connection, club_id: int, nomination_id: int) -> Any:
    row = (await conn.execute(select(community_invites).where(
        community_invites.c.id == nomination_id, community_invites.c.community_id == club_id,
        community_invites.c.status == NOMINATED))).first()
    if row is None:
        raise NotFound("nomination_not_found", "This nomination does not exist.")
    return row


async def do_approve_nomination(uow: UnitOfWork, actor_id: int, club_id: int, nomination_id: int) -> None:
    """The nominee is invited (and hears of it, kind 6)."""
    await check_admin(uow.conn, club_id, actor_id)
    row = await _nomination(uow.conn, club_id, nomination_id)
    await uow.conn.execute(update(community_invites).where(community_invites.c.id == row.id).values(
        status=INVITED))
    await notifications.do_notify(uow, user_id=row.user_id, kind=notifications.INVITED_TO_CLUB,
                                  actor_id=row.invited_by_id or actor_id, club_id=club_id, message=row.message or "")


async def do_reject_nomination(uow: UnitOfWork, actor_id: int, club_id: int, nomination_id: int) -> None:
    await check_admin(uow.conn, club_id, actor_id)
    row = await _nomination(uow.conn, club_id, nomination_id)
    await uow.conn.execute(delete(community_invites).where(community_invites.c.id == row.id))


async def do_remove_member(uow: UnitOfWork, actor_id: int, club_id: int, user_id: int) -> None:
    """An admin removes a member (or withdraws an invite/nomination); a member may remove themself.

    Idempotent for people who are not in the club. The last admin cannot be removed.
    """
    await access_club(uow.conn, club_id)
    if actor_id != user_id:
        await check_admin(uow.conn, club_id, actor_id)
    target = await relation(uow.conn, club_id, user_id)
    if target.is_admin and await _admin_ids(uow.conn, club_id) == [user_id]:
        raise Forbidden("last_club_admin", "A club needs an admin: make someone else an admin first.")
    await uow.conn.execute(delete(community_members).where(
        community_members.c.community_id == club_id, community_members.c.user_id == user_id))
    await uow.conn.execute(delete(community_invites).where(
        community_invites.c.community_id == club_id, community_invites.c.user_id == user_id))


async def do_add_admin(uow: UnitOfWork, actor_id: int, club_id: int, user_id: int) -> None:
    """Idempotent; the new admin must already be a member."""
    await check_admin(uow.conn, club_id, actor_id)
    target = await relation(uow.conn, club_id, user_id)
    if not target.is_member:
        raise Invalid("not_club_member", "Only members of the club can be made admins.")
    await uow.conn.execute(update(community_members).where(
        community_members.c.community_id == club_id, community_members.c.user_id == user_id).values(role=ADMIN))


async def do_remove_admin(uow: UnitOfWork, actor_id: int, club_id: int, user_id: int) -> None:
    """Idempotent; the last admin keeps the role."""
    await check_admin(uow.conn, club_id, actor_id)
    target = await relation(uow.conn, club_id, user_id)
    if not target.is_admin:
        return
    if await _admin_ids(uow.conn, club_id) == [user_id]:
        raise Forbidden("last_club_admin", "A club needs an admin: make someone else an admin first.")
    await uow.conn.execute(update(community_members).where(
        community_members.c.community_id == club_id, community_members.c.user_id == user_id).values(role=MEMBER))


async def do_add_club_topic(uow: UnitOfWork, actor_id: int, club_id: int, topic_id: int) -> None:
    """Idempotent."""
    await check_admin(uow.conn, club_id, actor_id)
    await get_topic(uow.conn, topic_id)
    current = {t.id for t in await topics_of_club(uow.conn, club_id)}
    if topic_id in current:
        return
    if len(current) >= MAX_CLUB_TOPICS:
        raise Invalid("too_many_topics", f"A club has at most {MAX_CLUB_TOPICS} topics.")
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, community_topics).values(
        community_id=club_id, topic_id=topic_id))


async def do_remove_club_topic(uow: UnitOfWork, actor_id: int, club_id: int, topic_id: int) -> None:
    """Idempotent."""
    await check_admin(uow.conn, club_id, actor_id)
    await get_topic(uow.conn, topic_id)
    await uow.conn.execute(delete(community_topics).where(
        community_topics.c.community_id == club_id, community_topics.c.topic_id == topic_id))
