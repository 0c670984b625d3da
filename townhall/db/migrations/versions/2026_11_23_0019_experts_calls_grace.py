"""experts: calls reconnect grace and lookups (empty unless needed)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = '0019'
down_revision: str | Sequence[str] | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
