"""voice: community voice chats and private voice chats

Rooms get the caller's name for a voice room (external_id, at most one live room of a kind per
name: a partial unique index); participants get the community role and profile a voice caller
sends.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from townhall.db.base import Json

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("ended_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=255), nullable=True))
    op.create_index('ux_rooms_live_external_id', 'rooms', ['kind', 'external_id'], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    with op.batch_alter_table('room_participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('community_role', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('profile', Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('room_participants', schema=None) as batch_op:
        batch_op.drop_column('profile')
        batch_op.drop_column('community_role')
    op.drop_index('ux_rooms_live_external_id', table_name='rooms')
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_column('external_id')
