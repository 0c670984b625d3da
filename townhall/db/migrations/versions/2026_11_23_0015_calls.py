"""calls: expert calls, needs, billing records

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('expert_calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('seeker_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('expert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.String(length=140), nullable=False),
    sa.Column('hourly_rate_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('canceled_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['canceled_by'], ['users.id'], name=op.f('fk_expert_calls_canceled_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['expert_id'], ['users.id'], name=op.f('fk_expert_calls_expert_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seeker_id'], ['users.id'], name=op.f('fk_expert_calls_seeker_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expert_calls'))
    )
    with op.batch_alter_table('expert_calls', schema=None) as batch_op:
        batch_op.create_index('ix_expert_calls_expert_id_status', ['expert_id', 'status'], unique=False)
        batch_op.create_index('ix_expert_calls_seeker_id_status', ['seeker_id', 'status'], unique=False)
        batch_op.create_index('ix_expert_calls_status_expires_at', ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('expert_calls')
