"""calls: expert calls, needs, billing records, call push notifications

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('expert_calls',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('seeker_id', BigId, nullable=False),
    sa.Column('expert_id', BigId, nullable=False),
    sa.Column('reason', sa.String(length=140), nullable=False),
    sa.Column('hourly_rate_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('canceled_by', BigId, nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('dialed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('seeker_present', sa.Boolean(), nullable=False),
    sa.Column('expert_present', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['canceled_by'], ['users.id'], name=op.f('fk_expert_calls_canceled_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['expert_id'], ['users.id'], name=op.f('fk_expert_calls_expert_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seeker_id'], ['users.id'], name=op.f('fk_expert_calls_seeker_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expert_calls'))
    )
    with op.batch_alter_table('expert_calls', schema=None) as batch_op:
        batch_op.create_index('ix_expert_calls_expert_id_status', ['expert_id', 'status'], unique=False)
        batch_op.create_index('ix_expert_calls_seeker_id_status', ['seeker_id', 'status'], unique=False)
        batch_op.create_index('ix_expert_calls_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_expert_calls_seeker_id_idempotency_key', ['seeker_id', 'idempotency_key'],
                              unique=True)

    op.create_table('expert_needs',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('requester_id', BigId, nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('paid', sa.Boolean(), nullable=False),
    sa.Column('fulfilled_by', BigId, nullable=True),
    sa.Column('call_id', BigId, nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['expert_calls.id'], name=op.f('fk_expert_needs_call_id_expert_calls'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['fulfilled_by'], ['users.id'], name=op.f('fk_expert_needs_fulfilled_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_expert_needs_requester_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expert_needs'))
    )
    with op.batch_alter_table('expert_needs', schema=None) as batch_op:
        batch_op.create_index('ix_expert_needs_requester_id', ['requester_id'], unique=False)

    op.create_table('call_billing_records',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('call_id', BigId, nullable=False),
    sa.Column('payer_id', BigId, nullable=True),
    sa.Column('payee_id', BigId, nullable=True),
    sa.Column('hourly_rate_cents', sa.Integer(), nullable=False),
    sa.Column('billed_seconds', sa.Integer(), nullable=False),
    sa.Column('billed_minutes', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['expert_calls.id'], name=op.f('fk_call_billing_records_call_id_expert_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payee_id'], ['users.id'], name=op.f('fk_call_billing_records_payee_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['payer_id'], ['users.id'], name=op.f('fk_call_billing_records_payer_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_billing_records')),
    sa.UniqueConstraint('call_id', name=op.f('uq_call_billing_records_call_id'))
    )

    op.create_table('call_notifications',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('call_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', Json, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['expert_calls.id'], name=op.f('fk_call_notifications_call_id_expert_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_call_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_notifications'))
    )
    with op.batch_alter_table('call_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_call_notifications_status_next_attempt_at', ['status', 'next_attempt_at'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('call_notifications')
    op.drop_table('call_billing_records')
    op.drop_table('expert_needs')
    op.drop_table('expert_calls')
