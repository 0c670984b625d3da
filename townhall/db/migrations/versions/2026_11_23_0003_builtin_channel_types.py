"""built-in chat channel types

The five channel types Stream apps expect out of the box, with the configuration they had when
this revision was written (frozen here on purpose: later code changes must not rewrite history).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 03:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAGS = ("typing_events", "read_events", "connect_events", "search", "reactions", "replies", "quotes",
          "mutes", "uploads", "url_enrichment", "custom_events", "push_notifications")
_DEFAULT = {
    **{flag: True for flag in _FLAGS},
    "reminders": False, "mark_messages_pending": False, "polls": False,
    "skip_last_msg_update_for_system_msgs": False, "message_retention": "infinite",
    "max_message_length": 5000, "automod": "disabled", "automod_behavior": "flag",
    "commands": ["giphy"],
}
BUILTIN = {
    "messaging": _DEFAULT,
    "team": _DEFAULT,
    "livestream": {**_DEFAULT, "typing_events": False, "read_events": False, "connect_events": False,
                   "push_notifications": False, "mutes": False},
    "commerce": {**_DEFAULT, "reactions": False, "replies": False, "url_enrichment": False, "commands": []},
    "gaming": {**_DEFAULT, "typing_events": False, "read_events": False, "push_notifications": False,
               "uploads": False, "commands": []},
}

channel_types = sa.table(
    "chat_channel_types",
    sa.column("name", sa.String),
    sa.column("config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    stamp = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        stamp = stamp.replace(tzinfo=None)
    op.bulk_insert(channel_types, [
        {"name": name, "config": config, "created_at": stamp, "updated_at": stamp}
        for name, config in BUILTIN.items()
    ])


def downgrade() -> None:
    op.execute(channel_types.delete().where(channel_types.c.name.in_(list(BUILTIN))))
