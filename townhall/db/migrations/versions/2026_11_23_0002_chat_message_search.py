"""chat message full-text search

Written by hand (scripts/new-migration --initial leaves it alone): each database's own engine.
- SQLite: an external-content FTS5 index ``chat_messages_fts`` (rowid = chat_messages.pk) kept
  in sync by triggers. A batch migration that rebuilds chat_messages drops these triggers: such
  a migration must create them again (``create_sqlite_triggers``) and rebuild the index.
- PostgreSQL: a generated ``search_vector`` column ('simple' configuration) with a GIN index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = {
    "chat_messages_fts_insert": """
        CREATE TRIGGER chat_messages_fts_insert AFTER INSERT ON chat_messages BEGIN
            INSERT INTO chat_messages_fts (rowid, text) VALUES (new.pk, new.text);
        END""",
    "chat_messages_fts_delete": """
        CREATE TRIGGER chat_messages_fts_delete AFTER DELETE ON chat_messages BEGIN
            INSERT INTO chat_messages_fts (chat_messages_fts, rowid, text)
            VALUES ('delete', old.pk, old.text);
        END""",
    # Only when the text changes: reactions and replies update messages far more often.
    "chat_messages_fts_update": """
        CREATE TRIGGER chat_messages_fts_update AFTER UPDATE OF text ON chat_messages BEGIN
            INSERT INTO chat_messages_fts (chat_messages_fts, rowid, text)
            VALUES ('delete', old.pk, old.text);
            INSERT INTO chat_messages_fts (rowid, text) VALUES (new.pk, new.text);
        END""",
}


def create_sqlite_triggers() -> None:
    for ddl in SQLITE_TRIGGERS.values():
        op.execute(ddl)


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE chat_messages_fts USING fts5("
            "text, content='chat_messages', content_rowid='pk')"
        )
        create_sqlite_triggers()
        op.execute("INSERT INTO chat_messages_fts (chat_messages_fts) VALUES ('rebuild')")
    else:
        op.add_column(
            "chat_messages",
            sa.Column(
                "search_vector",
                postgresql.TSVECTOR(),
                sa.Computed("to_tsvector('simple', coalesce(text, ''))", persisted=True),
            ),
        )
        op.create_index(
            "ix_chat_messages_search_vector",
            "chat_messages",
            ["search_vector"],
            postgresql_using="gin",
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS chat_messages_fts")
    else:
        op.drop_index("ix_chat_messages_search_vector", table_name="chat_messages")
        op.drop_column("chat_messages", "search_vector")
