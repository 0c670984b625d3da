"""social search: full-text search of users and clubs

Written by hand (as chat's in 0002 and the forum's in 0006), on each database's own engine:
- SQLite: ``social_users_fts`` (rowid = users.id; columns name, username, displayname, bio), one
  row per user built from users and profiles, kept right by triggers on both tables; and an
  external-content ``social_clubs_fts`` (rowid = communities.id; name, description) kept by
  triggers on communities.
- PostgreSQL: GIN indexes on the expressions ``USERS_TSVECTOR``, ``PROFILES_TSVECTOR`` and
  ``CLUBS_TSVECTOR`` that ``core/fulltext.py`` queries with (the very same text, so the planner
  uses the indexes).
Existing rows are indexed here (backfill).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 08:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Word for word as in townhall/core/fulltext.py.
USERS_TSVECTOR = "to_tsvector('simple'::regconfig, coalesce(name, ''))"
PROFILES_TSVECTOR = ("to_tsvector('simple'::regconfig, coalesce(username, '') || ' ' || coalesce(displayname, '')"
                     " || ' ' || coalesce(bio, ''))")
CLUBS_TSVECTOR = "to_tsvector('simple'::regconfig, name || ' ' || description)"
PG_INDEXES = {
    "ix_users_search": ("users", USERS_TSVECTOR),
    "ix_profiles_search": ("profiles", PROFILES_TSVECTOR),
    "ix_communities_search": ("communities", CLUBS_TSVECTOR),
}


def _refresh_user(user_id: str) -> str:
    """Statements (inside a trigger) that rebuild the user's row of ``social_users_fts``."""
    return f"""
            DELETE FROM social_users_fts WHERE rowid = {user_id};
            INSERT INTO social_users_fts (rowid, name, username, displayname, bio)
            SELECT u.id, coalesce(u.name, ''), coalesce(p.username, ''), coalesce(p.displayname, ''),
                   coalesce(p.bio, '')
            FROM users AS u LEFT JOIN profiles AS p ON p.user_id = u.id WHERE u.id = {user_id};"""


SQLITE_TRIGGERS = {
    "social_users_fts_user_insert": f"""
        CREATE TRIGGER social_users_fts_user_insert AFTER INSERT ON users BEGIN{_refresh_user("new.id")}
        END""",
    "social_users_fts_user_update": f"""
        CREATE TRIGGER social_users_fts_user_update AFTER UPDATE OF id, name ON users BEGIN
            DELETE FROM social_users_fts WHERE rowid = old.id;{_refresh_user("new.id")}
        END""",
    "social_users_fts_user_delete": """
        CREATE TRIGGER social_users_fts_user_delete AFTER DELETE ON users BEGIN
            DELETE FROM social_users_fts WHERE rowid = old.id;
        END""",
    "social_users_fts_profile_insert": f"""
        CREATE TRIGGER social_users_fts_profile_insert AFTER INSERT ON profiles BEGIN{_refresh_user("new.user_id")}
        END""",
    "social_users_fts_profile_update": f"""
        CREATE TRIGGER social_users_fts_profile_update AFTER UPDATE OF user_id, username, displayname, bio
        ON profiles BEGIN{_refresh_user("old.user_id")}{_refresh_user("new.user_id")}
        END""",
    "social_users_fts_profile_delete": f"""
        CREATE TRIGGER social_users_fts_profile_delete AFTER DELETE ON profiles BEGIN{_refresh_user("old.user_id")}
        END""",
    "social_clubs_fts_insert": """
        CREATE TRIGGER social_clubs_fts_insert AFTER INSERT ON communities BEGIN
            INSERT INTO social_clubs_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
        END""",
    "social_clubs_fts_delete": """
        CREATE TRIGGER social_clubs_fts_delete AFTER DELETE ON communities BEGIN
            INSERT INTO social_clubs_fts (social_clubs_fts, rowid, name, description)
            VALUES ('delete', old.id, old.name, old.description);
        END""",
    "social_clubs_fts_update": """
        CREATE TRIGGER social_clubs_fts_update AFTER UPDATE OF id, name, description ON communities BEGIN
            INSERT INTO social_clubs_fts (social_clubs_fts, rowid, name, description)
            VALUES ('delete', old.id, old.name, old.description);
            INSERT INTO social_clubs_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
        END""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE social_users_fts USING fts5(name, username, displayname, bio)")
        op.execute("CREATE VIRTUAL TABLE social_clubs_fts USING fts5("
                   "name, description, content='communities', content_rowid='id')")
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)
        op.execute("INSERT INTO social_users_fts (rowid, name, username, displayname, bio) "
                   "SELECT u.id, coalesce(u.name, ''), coalesce(p.username, ''), coalesce(p.displayname, ''), "
                   "coalesce(p.bio, '') FROM users AS u LEFT JOIN profiles AS p ON p.user_id = u.id")
        op.execute("INSERT INTO social_clubs_fts (social_clubs_fts) VALUES ('rebuild')")
    else:
        for name, (table, expression) in PG_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {table} USING gin (({expression}))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS social_clubs_fts")
        op.execute("DROP TABLE IF EXISTS social_users_fts")
    else:
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
