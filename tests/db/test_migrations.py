"""The migrations build exactly the tables the code declares (no column added without one)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

import townhall.db.tables  # noqa: F401  (every table module, as migrations/env.py)
from townhall.db.base import metadata
from townhall.db.migrate import run_on_connection

# Objects written by hand for full-text search, unknown to the table declarations.
HAND_WRITTEN = {"chat_messages_fts", "search_vector", "ix_chat_messages_search_vector", "forum_posts_fts",
                "ix_forum_posts_search", "social_users_fts", "social_clubs_fts", "ix_users_search",
                "ix_profiles_search", "ix_communities_search", "experts_fts", "ix_expert_profiles_search",
                "ix_profiles_twitter_lower"}


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return [d for d in compare_metadata(context, metadata) if not any(name in str(d) for name in HAND_WRITTEN)]


async def test_the_migrated_schema_matches_the_declared_tables(migrated_db_url: str) -> None:
    assert await run_on_connection(migrated_db_url, _diff) == []
