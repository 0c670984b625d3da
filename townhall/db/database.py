"""Database access: read snapshots and write transactions, on SQLite or PostgreSQL.

The domain sees one small interface, ``Connection`` (``await conn.execute(statement)`` and
``conn.dialect``), whichever database runs underneath.

SQLite (the embedded default) runs ON the event loop. A local SQLite statement takes
microseconds, far less than handing it to a worker thread and back, which is what an async
driver does for every statement. So statements run synchronously, and nothing ever waits for
SQLite's lock while blocking the loop: connections have no busy timeout, and a ``BEGIN`` that
finds the database locked (another process is writing) is retried after an ``asyncio.sleep``.
There is one write connection per process, used by one unit of work at a time, and a small pool
of read connections (WAL: readers never wait for the writer).

Group commit: a COMMIT costs as much as a whole small unit of work, so shared units of work
(``transaction(shared=True)``: sending a message) that run while others are waiting share one
``BEGIN IMMEDIATE`` .. ``COMMIT``. Each runs in its own ``SAVEPOINT``: one that fails is rolled
back alone and only its caller sees the error. Once a loop iteration passes without a new unit
joining (or the batch is ``GROUP_MAX_UNITS`` units or ``GROUP_MAX_WAIT`` seconds old), the batch
is committed and every unit in it returns. Other units are one transaction each, so they
never leave SQLite's write lock held while the loop runs other code (a test that blocks
the loop on a CLI subprocess writing to the same file would wait for it).
``transaction()`` returns only once its unit is committed, so nothing is acknowledged before it
is in the WAL (``synchronous=NORMAL``: it survives the process being killed; a power loss may
drop the last transactions); if the COMMIT fails, every unit of the batch raises.

PostgreSQL uses SQLAlchemy's async engine (asyncpg): one pooled transaction per unit of work.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection as SyncConnection
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Dialect, Result, make_url
from sqlalchemy.exc import MultipleResultsFound, NoResultFound, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import Insert

from townhall.db.base import UTCDateTime

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 30.0  # seconds a BEGIN may wait for another process's write transaction
MAX_READERS = 16
GROUP_MAX_UNITS = 64  # units of work one SQLite transaction may collect
GROUP_MAX_WAIT = 0.004  # seconds a batch may keep collecting before it commits
_SELECT_1 = text("SELECT 1")


class NotCommitted(RuntimeError):
    """A unit of work was rolled back because the transaction it shared with others failed."""


class Connection(Protocol):
    """What the domain may do with a database connection."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Any, parameters: Any = None) -> Result[Any]: ...


class Database:
    def __init__(self, url: str, *, group_commit: bool = True) -> None:
        if make_url(url).get_backend_name() == "sqlite":
            self._sqlite: _SQLiteOnLoop | None = _SQLiteOnLoop(url, group_commit=group_commit)
        else:
            self._sqlite = None
            self.engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)

    @asynccontextmanager
    async def transaction(self, *, shared: bool = False) -> AsyncIterator[Connection]:
        """A write transaction; returns only once it is committed (raises if it was not).

        ``shared``: on SQLite it may share one transaction with other shared units of work that
        run at the same time (group commit, above); for short and frequent units (a message).
        """
        if self._sqlite is not None:
            async with self._sqlite.transaction(shared=shared) as conn:
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
        prepared = _PREPARED.get(id(statement))
        if prepared is not None and prepared.statement is statement and not isinstance(parameters, list):
            result = prepared.run(self._conn, parameters or {})
            if result is not None:
                return result  # type: ignore[return-value]  # the part of Result the domain uses
        return self._conn.execute(statement, parameters)


# --- prepared statements ------------------------------------------------------------------------
#
# SQLAlchemy spends 5-10 times as long around a small SQLite statement as SQLite spends running
# it. The statements of the hot paths (sending a message, loading a channel) are built once at
# import; ``prepared(statement)`` marks one so that on SQLite its SQL, parameter order and type
# conversions are worked out once and it then runs straight on the driver. Results are plain rows
# with ``_mapping`` and attribute access, the part of SQLAlchemy's ``Result`` the domain uses.
# PostgreSQL runs them through SQLAlchemy as any other statement.

_PREPARED: dict[int, _Prepared] = {}


def prepared(statement: Any) -> Any:
    """Mark a statement built once (module level) for the fast SQLite path; returns it."""
    _PREPARED[id(statement)] = _Prepared(statement)
    return statement


class _Row(tuple[Any, ...]):
    """A result row: by position, by attribute, or through ``_mapping``."""

    __slots__ = ()
    _index: dict[str, int] = {}

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._index, self, strict=True))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


class _Rows:
    """What a prepared statement returns: its rows (all fetched) and ``rowcount``."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[_Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Any:
        return iter(self._rows)

    def all(self) -> list[_Row]:
        return self._rows

    fetchall = all

    def first(self) -> _Row | None:
        return self._rows[0] if self._rows else None

    def one(self) -> _Row:
        if len(self._rows) != 1:
            raise NoResultFound("expected one row") if not self._rows else MultipleResultsFound("expected one row")
        return self._rows[0]

    def one_or_none(self) -> _Row | None:
        return self.one() if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> _Scalars:
        return _Scalars([row[0] for row in self._rows])


class _Scalars(list[Any]):
    def all(self) -> list[Any]:
        return list(self)

    def first(self) -> Any:
        return self[0] if self else None


@dataclass(slots=True)
class _Plan:
    sql: str
    binds: list[tuple[str, Any, Any]]  # (parameter key, default value, converter or None)
    required: frozenset[str]  # parameters without a default
    row_type: type[_Row] | None  # None: the statement returns no rows
    converters: list[Any]  # per result column: converter or None


class _Prepared:
    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._plans: dict[Any, _Plan | None] = {}  # INSERTs: one per set of columns given

    def run(self, conn: SyncConnection, parameters: dict[str, Any]) -> _Rows | None:
        """Run on the driver; None when this statement or these parameters need SQLAlchemy."""
        key = frozenset(parameters) if isinstance(self.statement, Insert) else None
        plan = self._plans.get(key, False)
        if plan is False:
            plan = self._plans[key] = self._plan(conn.dialect, key)
        if plan is None or not plan.required <= parameters.keys():
            return None
        values = []
        for name, default, convert in plan.binds:
            value = parameters.get(name, default)
            values.append(convert(value) if convert is not None else value)
        try:
            cursor = _driver(conn).execute(plan.sql, values)
            raw_rows = cursor.fetchall() if plan.row_type is not None else []
        except sqlite3.Error:
            return None  # SQLAlchemy runs it again and raises its own exception for it
        if plan.row_type is None:
            return _Rows([], cursor.rowcount)
        converters, row_type = plan.converters, plan.row_type
        rows = [row_type([c(v) if c is not None else v for c, v in zip(converters, raw, strict=True)])
                for raw in raw_rows]
        return _Rows(rows, cursor.rowcount)

    def _plan(self, dialect: Dialect, columns: frozenset[str] | None) -> _Plan | None:
        compiled = self.statement.compile(dialect=dialect, column_keys=sorted(columns) if columns else None)
        if (dialect.name != "sqlite" or not compiled.positional or getattr(compiled, "_numeric_binds", False)
                or any(b.expanding or b.literal_execute or b.callable is not None for b in compiled.binds.values())
                or any(getattr(compiled, extra, None) for extra in ("insert_prefetch", "update_prefetch"))):
            return None
        processors = compiled._bind_processors
        binds = [(compiled.binds[name].key, compiled.binds[name].value,
                  UTCDateTime.sqlite_text if isinstance(compiled.binds[name].type, UTCDateTime)
                  else processors.get(name))
                 for name in compiled.positiontup or ()]
        required = frozenset(compiled.binds[name].key for name in compiled.positiontup or ()
                             if compiled.binds[name].required)
        if not compiled._result_columns:
            return _Plan(str(compiled), binds, required, None, [])
        keys = list(self.statement.exported_columns.keys())
        columns_of = compiled._result_columns
        if len(keys) != len(columns_of) or len(set(keys)) != len(keys):
            return None
        converters = [type_._cached_result_processor(dialect, None) for _, _, _, type_ in columns_of]
        row_type = type("Row", (_Row,), {"__slots__": (), "_index": {k: i for i, k in enumerate(keys)}})
        return _Plan(str(compiled), binds, required, row_type, converters)


@dataclass(eq=False)
class _Batch:
    """Units of work sharing one SQLite transaction; ``done`` resolves once it is committed."""

    conn: SyncConnection
    done: asyncio.Future[None]
    started: float
    units: int = 0
    failed: BaseException | None = None  # the transaction is gone: nothing of it can commit


class _SQLiteOnLoop:
    def __init__(self, url: str, *, group_commit: bool = True) -> None:
        # The stdlib driver (pysqlite) instead of aiosqlite; connections are kept by us.
        self._engine = create_engine(make_url(url).set(drivername="sqlite"), poolclass=NullPool,
                                     json_serializer=_json_text, json_deserializer=orjson.loads)
        event.listen(self._engine, "connect", _configure_connection)
        self._group_commit = group_commit
        self._write_lock = asyncio.Lock()
        self._writer: SyncConnection | None = None
        self._batch: _Batch | None = None
        self._committers: set[asyncio.Task[None]] = set()
        self._idle: list[SyncConnection] = []
        self._open_readers = 0
        self._reader_freed = asyncio.Condition()

    def _write_connection(self) -> SyncConnection:
        if self._writer is None:
            self._writer = self._engine.connect()
        return self._writer

    @asynccontextmanager
    async def transaction(self, *, shared: bool = False) -> AsyncIterator[Connection]:
        async with self._write_lock:
            if self._batch is None and not (shared and self._group_commit):
                async with self._alone() as conn:
                    yield conn
                return
            # A shared unit joins the open batch or opens one. So does any unit that finds a
            # batch open, but that one then commits the batch at once: only shared units ever
            # leave a transaction open while the event loop runs other code.
            batch = self._batch or await self._open_batch()
            raw = _driver(batch.conn)
            raw.execute("SAVEPOINT unit")
            try:
                yield _OnLoop(batch.conn)
                raw.execute("RELEASE unit")
            except BaseException as exc:
                self._undo_unit(batch, exc)
                raise
            batch.units += 1
            if not shared:
                self._commit(batch)
        await asyncio.shield(batch.done)  # raises if the COMMIT failed

    @asynccontextmanager
    async def _alone(self) -> AsyncIterator[Connection]:
        """One unit, one transaction (the caller holds the write lock)."""
        conn = self._write_connection()
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

    async def _open_batch(self) -> _Batch:
        conn = self._write_connection()
        await _begin(conn, "BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        batch = self._batch = _Batch(conn, loop.create_future(), loop.time())
        task = loop.create_task(self._commit_when_idle(batch), name="sqlite-group-commit")
        self._committers.add(task)
        task.add_done_callback(self._committers.discard)
        return batch

    def _undo_unit(self, batch: _Batch, exc: BaseException) -> None:
        """Roll back a failed unit alone; if SQLite dropped the whole transaction (I/O error, disk
        full), the batch fails: the units before it in the batch were lost too."""
        raw = _driver(batch.conn)
        try:
            if raw.in_transaction:
                try:
                    raw.execute("ROLLBACK TO unit")
                    raw.execute("RELEASE unit")
                    return
                except Exception:
                    log.warning("could not roll back a failed unit of work alone", exc_info=True)
            self._finish(batch.conn, "ROLLBACK")  # and SQLAlchemy's own transaction state
        except Exception:
            log.warning("could not roll back a failed SQLite transaction", exc_info=True)
        batch.failed = exc
        self._batch = None  # the next unit begins a new transaction

    async def _commit_when_idle(self, batch: _Batch) -> None:
        loop = asyncio.get_running_loop()
        seen = -1
        # Let every unit that is ready to run join first: commit once an iteration of the loop
        # added none (or the batch is big or old enough).
        while (batch.failed is None and batch.units != seen and batch.units < GROUP_MAX_UNITS
               and loop.time() - batch.started < GROUP_MAX_WAIT):
            seen = batch.units
            await asyncio.sleep(0)
        async with self._write_lock:
            self._commit(batch)

    def _commit(self, batch: _Batch) -> None:
        """Commit the batch (the caller holds the write lock); every unit of it then returns."""
        if batch.done.done():  # already committed (a unit that does not share did it)
            return
        if batch.failed is not None:  # already detached and rolled back by _undo_unit
            self._fail(batch, batch.failed)
            return
        self._batch = None
        try:
            self._finish(batch.conn, "COMMIT")
        except Exception as exc:
            try:
                self._finish(batch.conn, "ROLLBACK")
            except Exception:
                log.warning("could not roll back a failed SQLite transaction", exc_info=True)
            self._fail(batch, exc)
        else:
            batch.done.set_result(None)

    @staticmethod
    def _fail(batch: _Batch, exc: BaseException) -> None:
        """Every unit of the batch raises (each its own error: they are raised in many tasks)."""
        error = NotCommitted(f"the transaction of this unit of work did not commit: {exc!r}")
        error.__cause__ = exc
        batch.done.set_exception(error)
        batch.done.exception()  # retrieved: a batch whose callers were all cancelled is not an error

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
        if self._committers:
            await asyncio.gather(*self._committers, return_exceptions=True)
        async with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        self._engine.dispose()


def _json_text(value: Any) -> str:
    """JSON columns as text, with orjson (several times faster than the json module)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _driver(conn: SyncConnection) -> Any:
    """The pysqlite connection under a SQLAlchemy one (savepoints skip SQLAlchemy's statement path)."""
    return conn.connection.dbapi_connection


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
