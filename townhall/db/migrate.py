"""Database migrations: Alembic driven from code (no alembic.ini).

``upgrade(url)`` brings a database to the newest revision; ``townhall serve`` and
``townhall db upgrade`` call it. Revisions live in ``townhall/db/migrations/versions``;
``scripts/new-migration`` writes new ones (see AGENTS.md).

Every upgrade runs in ONE transaction, serialised between processes: on PostgreSQL behind an
advisory lock, on SQLite behind ``BEGIN IMMEDIATE``. On SQLite foreign keys stay off while tables
are rebuilt (batch mode) and are checked before the commit, as SQLite's own procedure for schema
changes requires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"
# Arbitrary constant: the PostgreSQL advisory lock held while migrating.
_PG_LOCK_KEY = 0x70776E68616C6C  # "townhall"

Progress = Callable[[str], None]
T = TypeVar("T")


class MigrationError(RuntimeError):
    """The database could not be brought to the newest revision."""


def alembic_config(url: str, progress: Progress | None = None) -> Config:
    """An Alembic Config for ``url`` pointing at the package's migrations (env.py reads
    ``attributes["url"]``, ``["connection"]`` and ``["progress"]``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    if progress is not None:
        config.attributes["progress"] = progress
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def run_on_connection(url: str, fn: Callable[[Connection], T]) -> T:
    """Run ``fn`` with a synchronous connection inside one locked, committed transaction."""
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    engine = create_async_engine(
        url, poolclass=NullPool, connect_args={"timeout": 60} if is_sqlite else {}
    )
    if is_sqlite:
        _take_sqlite_transaction_control(engine.sync_engine)
    try:
        async with engine.begin() as conn:
            if not is_sqlite:
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                await conn.execute(lock, {"key": _PG_LOCK_KEY})
            result = await conn.run_sync(fn)
            if is_sqlite:
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
                if broken:
                    raise MigrationError(f"migration left broken foreign keys: {broken[:5]}")
            return result
    finally:
        await engine.dispose()


def _take_sqlite_transaction_control(sync_engine: Any) -> None:
    # pysqlite neither begins a transaction before DDL nor lets SAVEPOINTs work unless we take
    # over; BEGIN IMMEDIATE also makes concurrent migrators wait for each other.
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


async def upgrade(url: str, progress: Progress | None = None) -> None:
    """Upgrade the database at ``url`` to the newest revision, reporting each one applied."""
    say = progress or (lambda line: log.info("%s", line))
    shown = make_url(url).render_as_string(hide_password=True)
    config = alembic_config(url, say)

    def _upgrade(conn: Connection) -> tuple[str | None, str | None]:
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        return before, MigrationContext.configure(conn).get_current_revision()

    say(f"database {shown}")
    try:
        before, after = await run_on_connection(url, _upgrade)
    except MigrationError:
        raise
    except Exception as exc:
        raise MigrationError(f"could not migrate {shown}: {exc}") from exc
    if before == after:
        say(f"database is up to date (revision {after})")
    else:
        say(f"database upgraded from {before or 'empty'} to {after}")


def upgrade_sync(url: str, progress: Progress | None = None) -> None:
    """``upgrade`` for synchronous callers (the CLI)."""
    asyncio.run(upgrade(url, progress))
