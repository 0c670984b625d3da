"""User search over names, usernames, display names and bios, on the database's full-text engine
(``core/fulltext.py``: SQLite FTS5, PostgreSQL tsvector with GIN indexes): every word of the query
must start a word of one of the fields ("ad" finds "Ada"). Best matches first: exact username,
then usernames and names starting with the query, then the rest. Case-insensitive; blocked
users (either way), waitlisted, banned and gone accounts never appear. Filters: following_only, followers_only, cofollows_only (following and followed by)."""

from __future__ import annotations

from sqlalchemy import case, exists, func, or_, select

from townhall.core.accounts.tables import profiles, users
from townhall.core.errors import Invalid
from townhall.core.filters import like_escape
from townhall.core.fulltext import user_condition, words_of
from townhall.core.social.graph import blocked_between
from townhall.core.social.tables import follows
from townhall.db.database import Connection

MAX_QUERY = 100


def _like(text: str) -> str:
    return f"%{like_escape(text)}%"


def _prefix(text: str) -> str:
    return f"{like_escape(text)}%"


async def search_users(
    conn: Connection, me: int, query: str, *, following_only: bool = False, followers_only: bool = False,
    cofollows_only: bool = False, limit: int, offset: int,
) -> tuple[list[int], int]:
    words = words_of(query)
    if len(query or "") > MAX_QUERY:
        raise Invalid("query_too_long", f"The search is longer than {MAX_QUERY} characters.")
    if not words:
        return [], 0
    name = func.lower(func.coalesce(users.c.name, ""))
    username = func.coalesce(profiles.c.username_key, "")
    display = func.lower(func.coalesce(profiles.c.displayname, ""))
    every_word = user_condition(conn, users.c.id, words)
    whole = " ".join(words)
    rank = case(
        (username == whole.replace(" ", ""), 0),
        (username.like(_prefix(words[0]), escape="\\"), 1),
        (name.like(_prefix(whole), escape="\\"), 2),
        (or_(name.like(_like(" " + words[0]), escape="\\"), display.like(_prefix(words[0]), escape="\\")), 3),
        (or_(*[f.like(_like(words[0]), escape="\\") for f in (name, username, display)]), 4),
        else_=5,
    )
    where = [
        every_word, users.c.deleted_at.is_(None), users.c.deactivated_at.is_(None), users.c.banned.is_(False),
        profiles.c.waitlisted.is_(False), ~blocked_between(me, users.c.id),
    ]
    i_follow = exists().where(follows.c.follower_id == me, follows.c.followee_id == users.c.id)
    follows_me = exists().where(follows.c.follower_id == users.c.id, follows.c.followee_id == me)
    if following_only or cofollows_only:
        where.append(i_follow)
    if followers_only or cofollows_only:
        where.append(follows_me)
    base = select(users.c.id).select_from(users.join(profiles, profiles.c.user_id == users.c.id)).where(*where)
    count = (await conn.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    popularity = select(func.count()).where(follows.c.followee_id == users.c.id).scalar_subquery()
    rows = await conn.execute(base.order_by(rank, popularity.desc(), users.c.id).limit(limit).offset(offset))
    return [r[0] for r in rows], int(count)
