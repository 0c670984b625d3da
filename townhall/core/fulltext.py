"""Type-ahead full-text search of users and clubs on the database's own engine (migration 0012):
SQLite FTS5 (``social_users_fts``, ``social_clubs_fts``, kept by triggers), PostgreSQL tsvector
(GIN expression indexes). Every word of the query must match, each as a prefix ("ad" finds
"Ada"). Words are taken with ``WORD`` (letters and digits), and each is quoted, so what the user
types is never read as FTS syntax (quotes, ``*``, ``-``, ``:``, ``&``, ``|``, parentheses)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, cast, func, literal, literal_column, or_
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql import ColumnElement

from townhall.db.database import Connection

# Letters and digits: the words both engines' tokenizers make of a text (they split at "_").
WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_WORDS = 8

# The expressions of the GIN indexes of migration 0012 (PostgreSQL), word for word: the planner
# uses an index only for its very expression.
USERS_TSVECTOR = "to_tsvector('simple'::regconfig, coalesce(name, ''))"
PROFILES_TSVECTOR = ("to_tsvector('simple'::regconfig, coalesce(username, '') || ' ' || coalesce(displayname, '')"
                     " || ' ' || coalesce(bio, ''))")
CLUBS_TSVECTOR = "to_tsvector('simple'::regconfig, name || ' ' || description)"


def words_of(query: str) -> list[str]:
    return [w.lower() for w in WORD.findall(query or "")][:MAX_WORDS]


def fts5_prefix_query(words: list[str]) -> str:
    """An FTS5 MATCH string: every word, quoted, as a prefix (``"ad"* "lo"*``)."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _quoted(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "':*"


def prefix_tsquery(word: str) -> ColumnElement[Any]:
    """A PostgreSQL prefix tsquery of one word (``'ad':*``), the word quoted as a lexeme.

    PostgreSQL's parser reads a word by its context: alone, "1e5a2b" is a number and a word
    ('1e5' 'a2b'); after a hyphen ("t-1e5a2b") it is one lexeme, and "t-123" gives '-123'. A
    query word is matched in each of these forms: as the parser reads it alone, as one lexeme,
    and (starting with a digit) with the minus sign the parser may have kept."""
    parsed = func.to_tsquery(literal_column("'simple'::regconfig"), _quoted(word))
    query = func.tsquery_or(parsed, cast(literal(_quoted(word)), TSQUERY))
    if word[:1].isdigit():
        query = func.tsquery_or(query, cast(literal(_quoted("-" + word)), TSQUERY))
    return query


def _matches(expression: str, word: str) -> ColumnElement[bool]:
    return literal_column(expression).op("@@")(prefix_tsquery(word))


def user_condition(conn: Connection, user_id: Any, words: list[str]) -> ColumnElement[bool]:
    """Users (``user_id``: users.id; the query must join profiles) with every word in their name,
    username, display name or bio."""
    if conn.dialect.name == "sqlite":
        hits = sql_text("SELECT rowid FROM social_users_fts WHERE social_users_fts MATCH :q"
                        ).bindparams(q=fts5_prefix_query(words)).columns(literal_column("rowid"))
        return user_id.in_(hits)
    return and_(*[or_(_matches(USERS_TSVECTOR, w), _matches(PROFILES_TSVECTOR, w)) for w in words])


def club_condition(conn: Connection, club_id: Any, words: list[str]) -> ColumnElement[bool]:
    """Clubs (``club_id``: communities.id) with every word in their name or description."""
    if conn.dialect.name == "sqlite":
        hits = sql_text("SELECT rowid FROM social_clubs_fts WHERE social_clubs_fts MATCH :q"
                        ).bindparams(q=fts5_prefix_query(words)).columns(literal_column("rowid"))
        return club_id.in_(hits)
    return and_(*[_matches(CLUBS_TSVECTOR, w) for w in words])
