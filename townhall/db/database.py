"""Database access: one write transaction per unit of work, committed in groups on SQLite.

SQLite allows one writer at a time and a commit costs far more than a small statement, so on
SQLite every write transaction runs on ONE connection, each unit of work inside its own SAVEPOINT,
and the units queued behind each other are committed together ("group commit"). A unit that fails
rolls back to its savepoint and leaves the others alone; ``transaction()`` returns only after the
COMMIT that made the unit durable, so nothing is acknowledged before it is on disk.

On PostgreSQL each unit of work is an ordinary pooled transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncTransaction,
    create_async_engine,
)

log = logging.getLogger(__name__)


class Database:
    def __init__(self, url: str, *, max_batch: int = 256) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = create_async_engine(
                url, pool_size=8, max_overflow=8, connect_args={"timeout": 30}
            )
            _configure_sqlite(self.engine)
            self._writer: _GroupCommitWriter | None = _GroupCommitWriter(self.engine, max_batch)
        else:
            self.engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self._writer = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; returns only once it is committed (raises if it was not)."""
        if self._writer is not None:
            async with self._writer.unit() as conn:
                yield conn
            return
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot."""
        async with self.engine.connect() as conn:
            async with conn.begin():
                yield conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    # Take transaction control from the driver so SAVEPOINTs work, and start write transactions
    # with BEGIN IMMEDIATE so two processes never deadlock upgrading a read lock.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.info.get("townhall_writer") else "BEGIN"
        )


class _Batch:
    __slots__ = ("done", "size", "tx")

    def __init__(self, tx: AsyncTransaction) -> None:
        self.tx = tx
        self.size = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class _GroupCommitWriter:
    def __init__(self, engine: AsyncEngine, max_batch: int) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._conn: AsyncConnection | None = None
        self._batch: _Batch | None = None
        self._flusher: asyncio.Task[None] | None = None

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self._engine.connect()
            conn.info["townhall_writer"] = True
            self._conn = conn
        return self._conn

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncConnection]:
        self._waiting += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._waiting -= 1
            if self._batch is not None and self._waiting == 0:
                self._schedule_flush()
            raise
        self._waiting -= 1
        batch: _Batch | None = None
        try:
            try:
                conn = await self._connection()
                if self._batch is None:
                    self._batch = _Batch(await conn.begin())
            except BaseException:
                await self._reset()
                raise
            batch = self._batch
            savepoint = await conn.begin_nested()
            try:
                yield conn
            except BaseException:
                await savepoint.rollback()
                raise
            await savepoint.commit()
            batch.size += 1
        finally:
            # The last unit in the queue (or a full batch) commits for everyone in the batch.
            if self._batch is not None and (
                self._waiting == 0 or self._batch.size >= self._max_batch
            ):
                await self._finish(self._batch)
            self._lock.release()
        await asyncio.shield(batch.done)

    async def _finish(self, batch: _Batch) -> None:
        """Commit the open batch (caller holds the lock)."""
        self._batch = None
        try:
            await batch.tx.commit()
        except BaseException as exc:  # the whole group failed: nobody's write is durable
            log.error("group commit failed", exc_info=exc)
            await self._reset()
            if not batch.done.done():
                batch.done.set_exception(exc)
                batch.done.exception()  # mark retrieved
            return
        if not batch.done.done():
            batch.done.set_result(None)

    async def _reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception:  # pragma: no cover - best effort
                pass

    def _schedule_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        async with self._lock:
            if self._batch is not None and self._waiting == 0:
                await self._finish(self._batch)

    async def close(self) -> None:
        async with self._lock:
            if self._batch is not None:
                await self._finish(self._batch)
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
