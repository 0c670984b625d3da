"""chat restricted visibility

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 06:30:00+00:00

Plain ALTER TABLE (no batch rebuild): a rebuild of chat_messages on SQLite would drop the
full-text search triggers of 0002. SQLite has had ADD/DROP COLUMN since 3.35.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('chat_messages', sa.Column(
        'restricted_visibility',
        sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), 'postgresql'),
        nullable=True))


def downgrade() -> None:
    op.drop_column('chat_messages', 'restricted_visibility')
