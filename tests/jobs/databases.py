"""A database of a test's own: a SQLite file, or a fresh database on the test PostgreSQL server."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from townhall.db.migrate import upgrade


@asynccontextmanager
async def fresh_database(directory: Path, *, migrate: bool = True) -> AsyncIterator[str]:
    server_url = os.environ.get("TOWNHALL_TEST_DATABASE_URL")
    if not server_url:
        url = f"sqlite+aiosqlite:///{directory / 'own.db'}"
        if migrate:
            await upgrade(url)
        yield url
        return
    base = make_url(server_url)
    name = f"townhall_own_{secrets.token_hex(4)}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
        if migrate:
            await upgrade(url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()
