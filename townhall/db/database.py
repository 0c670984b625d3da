"""Database access: read snapshots and write transactions, on SQLite or PostgreSQL.

The domain sees one small interface, ``Connection`` (``await conn.execute(statement)`` and
``conn.dialect``), whichever database runs underneath.

SQLite (the embedded default) runs ON the event loop. A local SQLite statement takes
microseconds, far less than handing it to a worker thread and back, which is what an async
driver does for every statement. So statements run synchronously, and nothing ever waits for
SQLite's lock while blocking the loop: connections have no busy timeout, and a ``BEGIN`` that
finds the database locked (another process is writing) is retried after an ``asyncio.sleep``.
There is one write connection per process, used by one unit of work at a time
(``BEGIN IMMEDIATE`` .. ``COMMIT``), and a small pool of read connections (WAL: readers never
wait for the writer). ``transaction()`` returns once the COMMIT is done, so nothing is
acknowledged before it is in the WAL (``synchronous=NORMAL``: it survives the process being
killed; a power loss may drop the last transactions).

PostgreSQL uses SQLAlchemy's async engine (asyncpg): one pooled transaction per unit of work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import Connection as SyncConnection
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Dialect, Result, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 30.0  # seconds a BEGIN may wait for another process's write transaction
MAX_READERS = 16
_SELECT_1 = text("SELECT 1")


class Connection(Protocol):
    """What the domain may do with a database connection."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Any, parameters: Any = None) -> Result[Any]: ...


class Database:
    def __init__(self, url: str) -> None:
        if make_url(url).get_backend_name() == "sqlite":
            self._sqlite: _SQLiteOnLoop | None = _SQLiteOnLoop(url)
        else:
            self._sqlite = None
            self.engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A write transaction; returns only once it is committed (raises if it was not)."""
        if self._sqlite is not None:
            async with self._sqlite.transaction() as conn:
                yield conn
            return
        async with self.engine.begin() as async_conn:
            yield async_conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A read-only snapshot."""
        if self._sqlite is not None:
            async with self._sqlite.read() as conn:
                yield conn
            return
        async with self.engine.connect() as async_conn:
            async with async_conn.begin():
                yield async_conn

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(_SELECT_1)

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        else:
            await self.engine.dispose()


class _OnLoop:
    """A synchronous SQLAlchemy connection with the async ``Connection`` interface."""

    __slots__ = ("_conn",)

    def __init__(self, conn: SyncConnection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Result[Any]:
        return self._conn.execute(statement, parameters)


class _SQLiteOnLoop:
    def __init__(self, url: str) -> None:
        # The stdlib driver (pysqlite) instead of aiosqlite; connections are kept by us.
        self._engine = create_engine(make_url(url).set(drivername="sqlite"), poolclass=NullPool)
        event.listen(self._engine, "connect", _configure_connection)
        self._write_lock = asyncio.Lock()
        self._writer: SyncConnection | None = None
        self._idle: list[SyncConnection] = []
        self._open_readers = 0
        self._reader_freed = asyncio.Condition()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            if self._writer is None:
                self._writer = self._engine.connect()
            conn = self._writer
            await _begin(conn, "BEGIN IMMEDIATE")
            try:
                yield _OnLoop(conn)
            except BaseException:
                self._finish(conn, "ROLLBACK")
                raise
            try:
                self._finish(conn, "COMMIT")
            except BaseException:
                self._finish(conn, "ROLLBACK")
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        conn = await self._acquire_reader()
        try:
            await _begin(conn, "BEGIN")
            yield _OnLoop(conn)
        finally:
            try:
                self._finish(conn, "ROLLBACK")
            except Exception:  # a broken connection is closed, not reused
                log.warning("closing a broken SQLite read connection", exc_info=True)
                await self._discard_reader(conn)
            else:
                await self._release_reader(conn)

    def _finish(self, conn: SyncConnection, sql: str) -> None:
        if conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql(sql)
        conn.rollback()  # resets SQLAlchemy's own transaction state; nothing left for the driver

    async def _acquire_reader(self) -> SyncConnection:
        async with self._reader_freed:
            while not self._idle and self._open_readers >= MAX_READERS:
                await self._reader_freed.wait()
            if self._idle:
                return self._idle.pop()
            self._open_readers += 1
        try:
            return self._engine.connect()
        except BaseException:
            async with self._reader_freed:
                self._open_readers -= 1
                self._reader_freed.notify()
            raise

    async def _release_reader(self, conn: SyncConnection) -> None:
        async with self._reader_freed:
            self._idle.append(conn)
            self._reader_freed.notify()

    async def _discard_reader(self, conn: SyncConnection) -> None:
        conn.invalidate()
        async with self._reader_freed:
            self._open_readers -= 1
            self._reader_freed.notify()

    async def close(self) -> None:
        async with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        self._engine.dispose()


def _configure_connection(dbapi_conn: Any, _record: Any) -> None:
    # Transactions are ours (BEGIN/COMMIT below), and a locked database is answered at once
    # (busy_timeout=0) so that waiting happens in asyncio.sleep, never blocking the loop.
    dbapi_conn.isolation_level = None
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=0"):
        dbapi_conn.execute(f"PRAGMA {pragma}")


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


async def _begin(conn: SyncConnection, sql: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_TIMEOUT
    delay = 0.0005
    while True:
        try:
            conn.exec_driver_sql(sql)
            return
        except OperationalError as exc:
            conn.rollback()
            if not _is_busy(exc) or loop.time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.002)
