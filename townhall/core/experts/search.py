"""Expert search over members' names, screen names, bios, expertise and locations, on the
database's own full-text engine (migration 0016):
- SQLite: FTS5 ``experts_fts`` (rowid = users.id; name, username, displayname, bio, expertise,
  location), kept by triggers on users, profiles and expert_profiles; ranked by bm25 with names
  weighing most;
- PostgreSQL: the GIN expression indexes of users and profiles (migration 0012) and of
  expert_profiles (``EXPERTS_TSVECTOR``, migration 0016); ranked by ts_rank.
Every word of the query must start a word of one of the fields, in any of them (``core/fulltext``:
FTS syntax never reaches the engine). Order: members whose name or screen name has the first word
(a word starting with it) before those found by their bio, expertise or location; within each, the
experts (a rate or expertise), then the most completed calls, then the engine's text rank, then the
oldest account. Only members others may see (``members.visible``) are found."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, and_, case, func, literal_column, or_, select, union
from sqlalchemy import text as sql_text
from sqlalchemy.sql import ColumnElement

from townhall.core.accounts.tables import profiles, users
from townhall.core.errors import Invalid
from townhall.core.experts.members import completed_calls, visible
from townhall.core.experts.tables import expert_profiles
from townhall.core.fields import is_digits
from townhall.core.filters import like_escape
from townhall.core.fulltext import PROFILES_TSVECTOR, USERS_TSVECTOR, fts5_prefix_query, prefix_tsquery, words_of
from townhall.db.database import Connection

PAGE_SIZE = 10
MAX_QUERY = 200
MAX_OFFSET = 10_000
# The expression of the GIN index of migration 0016 (PostgreSQL), word for word.
EXPERTS_TSVECTOR = "to_tsvector('simple'::regconfig, expertise || ' ' || location)"
# bm25 weights of experts_fts's columns: name, username, displayname, bio, expertise, location.
_FTS5_RANK = "bm25(experts_fts, 10.0, 10.0, 8.0, 1.0, 3.0, 2.0)"


def _sqlite_hits(words: list[str]) -> Any:
    return (sql_text(f"SELECT rowid AS user_id, {_FTS5_RANK} AS score FROM experts_fts WHERE experts_fts MATCH :q")
            .bindparams(q=fts5_prefix_query(words))
            .columns(literal_column("user_id"), literal_column("score", Float)).subquery("hits"))


def _pg_condition(words: list[str]) -> ColumnElement[bool]:
    """Every word in the user's name, their profile or their expert settings: per word, the ids
    found in each table's own GIN index, united (one semi-join the planner estimates well)."""
    def matching(key: Any, expression: str, word: str) -> Any:
        return select(key).where(literal_column(expression).op("@@")(prefix_tsquery(word))).correlate(None)

    return and_(*[users.c.id.in_(union(matching(users.c.id, USERS_TSVECTOR, w),
                                       matching(profiles.c.user_id, PROFILES_TSVECTOR, w),
                                       matching(expert_profiles.c.user_id, EXPERTS_TSVECTOR, w)))
                  for w in words])


def _pg_rank(words: list[str]) -> Any:
    document = " || ' ' || ".join(f"coalesce({c}, '')" for c in (
        "users.name", "profiles.username", "profiles.displayname", "profiles.bio", "expert_profiles.expertise",
        "expert_profiles.location"))
    combined = prefix_tsquery(words[0])
    for word in words[1:]:
        combined = combined.op("&&")(prefix_tsquery(word))
    return -func.ts_rank(func.to_tsvector(literal_column("'simple'::regconfig"), literal_column(document)), combined)


def _name_hit(word: str) -> ColumnElement[bool]:
    """The member's name, display name or screen name has a word starting with ``word``."""
    start, inside = f"{like_escape(word)}%", f"% {like_escape(word)}%"
    names = [func.lower(func.coalesce(c, "")) for c in (users.c.name, profiles.c.displayname)]
    return or_(func.coalesce(profiles.c.username_key, "").like(start, escape="\\"),
               *[n.like(start, escape="\\") for n in names], *[n.like(inside, escape="\\") for n in names])


def check_query(query: Any) -> list[str]:
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise Invalid("invalid_request", f"q must be a search term of at most {MAX_QUERY} characters.", field="q")
    return words_of(query)


def check_offset(offset: Any) -> int:
    if isinstance(offset, str) and is_digits(offset.strip()):
        offset = int(offset.strip())
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise Invalid("invalid_request", f"offset must be a whole number from 0 to {MAX_OFFSET}.", field="offset")
    return offset


async def search_experts(conn: Connection, query: Any, *, offset: Any = 0,
                         limit: int = PAGE_SIZE) -> tuple[list[int], int]:
    """(a page of member ids, best first; the number of matches) for the search ``query``."""
    words = check_query(query)
    start = check_offset(offset)
    if not words:
        return [], 0
    joined = (users.outerjoin(profiles, profiles.c.user_id == users.c.id)
              .outerjoin(expert_profiles, expert_profiles.c.user_id == users.c.id))
    if conn.dialect.name == "sqlite":
        hits = _sqlite_hits(words)
        joined = joined.join(hits, hits.c.user_id == users.c.id)
        where: list[Any] = []
        rank: Any = hits.c.score  # bm25: lower is better
    else:
        where = [_pg_condition(words)]
        rank = _pg_rank(words)
    where += [users.c.deleted_at.is_(None), visible()]
    base = select(users.c.id).select_from(joined).where(*where)
    total = (await conn.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    if not total or start >= total:
        return [], int(total)
    tier = case((_name_hit(words[0]), 0), else_=1)
    is_expert = case((or_(func.coalesce(expert_profiles.c.hourly_rate_cents, 0) > 0,
                          func.coalesce(expert_profiles.c.expertise, "") != ""), 0), else_=1)
    rows = await conn.execute(base.order_by(tier, is_expert, completed_calls(users.c.id).desc(), rank, users.c.id)
                              .limit(limit).offset(start))
    return [r[0] for r in rows], int(total)
