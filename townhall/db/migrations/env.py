"""Alembic environment, driven by ``townhall.db.migrate`` (there is no alembic.ini).

``config.attributes``: ``url`` (the database), ``connection`` (an open synchronous connection
inside the migration transaction; when absent one is opened on ``url``) and ``progress`` (called
with a line for each revision applied).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script
from sqlalchemy import Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

import townhall.db.tables  # noqa: F401  (every table module registers on the metadata)
from townhall.db.base import metadata
from townhall.db.migrate import run_on_connection

config = context.config

# Schema objects written by hand in revisions (full-text search): autogenerate must not drop them.
HAND_WRITTEN_TABLE_PREFIXES = ("chat_messages_fts", "forum_posts_fts", "social_users_fts", "social_clubs_fts",
                               "experts_fts")
HAND_WRITTEN_NAMES = {"search_vector", "ix_chat_messages_search_vector", "ix_forum_posts_search", "ix_users_search",
                      "ix_profiles_search", "ix_communities_search", "ix_expert_profiles_search",
                      "ix_profiles_twitter_lower"}


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    if name is None:
        return True
    if type_ == "table" and name.startswith(HAND_WRITTEN_TABLE_PREFIXES):
        return False
    return name not in HAND_WRITTEN_NAMES


def render_item(type_: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    if type_ != "type":
        return False
    # Migrations must not import application types: write a TypeDecorator as the type it stores.
    if isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    # Alembic would write JSONB(astext_type=Text()) without importing Text.
    if isinstance(obj, JSONB) and type(obj.astext_type) is Text:
        autogen.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB()"
    return False


def on_version_apply(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    progress = config.attributes.get("progress")
    script = step.up_revision  # on a downgrade: the revision reverted
    if progress is not None and isinstance(script, Script):
        verb = "applied" if step.is_upgrade else "reverted"
        progress(f"{verb} revision {script.revision} ({script.doc})")


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite rebuilds tables to alter them
        compare_type=True,
        include_name=include_name,
        render_item=render_item,
        on_version_apply=on_version_apply,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    asyncio.run(run_on_connection(config.attributes["url"], run_migrations))
