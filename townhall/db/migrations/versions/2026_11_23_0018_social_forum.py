"""social and forum: refresh token rotation, profile lookups, webhook safety (empty unless needed)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = '0018'
down_revision: str | Sequence[str] | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
