"""experts: member profiles and search

Written by hand (as social search in 0012), on each database's own engine:
- SQLite: ``experts_fts`` (rowid = users.id; columns name, username, displayname, bio, expertise,
  location), one row per user built from users, profiles and expert_profiles, kept right by
  triggers on the three tables (only on the columns it holds: counters such as profile views or
  last_active never touch it);
- PostgreSQL: a GIN index on ``EXPERTS_TSVECTOR`` (the very text ``core/experts/search.py``
  queries with); names and profiles use the indexes of 0012.
Existing rows are indexed here (backfill).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Word for word as in townhall/core/experts/search.py.
EXPERTS_TSVECTOR = "to_tsvector('simple'::regconfig, expertise || ' ' || location)"

_ROW = """SELECT u.id, coalesce(u.name, ''), coalesce(p.username, ''), coalesce(p.displayname, ''),
                   coalesce(p.bio, ''), coalesce(e.expertise, ''), coalesce(e.location, '')
            FROM users AS u LEFT JOIN profiles AS p ON p.user_id = u.id
            LEFT JOIN expert_profiles AS e ON e.user_id = u.id"""
_COLUMNS = "(rowid, name, username, displayname, bio, expertise, location)"


def _refresh(user_id: str) -> str:
    """Statements (inside a trigger) that rebuild the user's row of ``experts_fts``."""
    return f"""
            DELETE FROM experts_fts WHERE rowid = {user_id};
            INSERT INTO experts_fts {_COLUMNS}
            {_ROW} WHERE u.id = {user_id};"""


def _on(table: str, key: str, columns: str) -> dict[str, str]:
    """Triggers keeping ``experts_fts`` right when rows of ``table`` (naming the user by ``key``) change."""
    return {
        f"experts_fts_{table}_insert": f"""
            CREATE TRIGGER experts_fts_{table}_insert AFTER INSERT ON {table} BEGIN{_refresh(f"new.{key}")}
            END""",
        f"experts_fts_{table}_update": f"""
            CREATE TRIGGER experts_fts_{table}_update AFTER UPDATE OF {key}, {columns} ON {table} BEGIN
            {_refresh(f"old.{key}")}{_refresh(f"new.{key}")}
            END""",
        f"experts_fts_{table}_delete": f"""
            CREATE TRIGGER experts_fts_{table}_delete AFTER DELETE ON {table} BEGIN{_refresh(f"old.{key}")}
            END""",
    }


SQLITE_TRIGGERS = {
    **_on("users", "id", "name"),
    **_on("profiles", "user_id", "username, displayname, bio"),
    **_on("expert_profiles", "user_id", "expertise, location"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE experts_fts USING fts5(name, username, displayname, bio, expertise, location)")
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)
        op.execute(f"INSERT INTO experts_fts {_COLUMNS} {_ROW}")
    else:
        op.execute(f"CREATE INDEX ix_expert_profiles_search ON expert_profiles USING gin (({EXPERTS_TSVECTOR}))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS experts_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_expert_profiles_search")
