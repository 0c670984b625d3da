"""chat message history

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 06:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('chat_message_history',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('custom', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('is_deleted', sa.Boolean(), nullable=False),
    sa.Column('updated_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['chat_messages.pk'], name=op.f('fk_chat_message_history_message_pk_chat_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_chat_message_history_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_chat_message_history'))
    )
    op.create_index('ix_chat_message_history_message_pk', 'chat_message_history', ['message_pk'], unique=False)
    op.create_index('ix_chat_message_history_message_updated', 'chat_message_history',
                    ['message_id', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_chat_message_history_message_updated', table_name='chat_message_history')
    op.drop_index('ix_chat_message_history_message_pk', table_name='chat_message_history')
    op.drop_table('chat_message_history')
