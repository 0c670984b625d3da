"""experts: calls reconnect grace (when each party dropped out, the time both were together)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | Sequence[str] | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("seeker_left_at", "expert_left_at", "together_since")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column('expert_calls', sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column('expert_calls', sa.Column('together_ms', sa.Integer(), nullable=True))
    # Calls answered before this revision were together since they were answered.
    op.execute("UPDATE expert_calls SET together_since = answered_at, together_ms = 0 "
               "WHERE status = 'expert_answered'")


def downgrade() -> None:
    with op.batch_alter_table('expert_calls') as batch:
        for name in (*_COLUMNS, 'together_ms'):
            batch.drop_column(name)
