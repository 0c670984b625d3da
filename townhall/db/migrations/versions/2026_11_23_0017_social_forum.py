"""social and forum: refresh token rotation, profile lookups by e-mail and Twitter handle

- ``auth_sessions.refresh_generation``: the generation of the session's refresh tokens (rotation,
  see core/accounts/sessions.py); existing sessions start at 0, as do the tokens they hold.
- ``ix_profiles_email`` (e-mail addresses are stored lower-cased) and ``ix_profiles_twitter_lower``
  on ``lower(twitter)`` (an expression index, written by hand: autogenerate leaves it alone).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | Sequence[str] | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("auth_sessions", sa.Column("refresh_generation", sa.Integer(), nullable=False,
                                             server_default="0"))
    op.create_index("ix_profiles_email", "profiles", ["email", "user_id"])
    op.execute("CREATE INDEX ix_profiles_twitter_lower ON profiles (lower(twitter), user_id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_profiles_twitter_lower")
    op.drop_index("ix_profiles_email", table_name="profiles")
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("refresh_generation")
