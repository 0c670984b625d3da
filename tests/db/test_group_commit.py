"""SQLite group commit and prepared statements (db/database.py).

Units of work that run while others wait share one transaction, each in its own savepoint: a
failing unit is rolled back alone, a failed COMMIT fails every unit of its batch, and a unit
returns only once it is committed. Prepared statements give the same rows as SQLAlchemy does.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, bindparam, event, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from townhall.db.base import UTCDateTime
from townhall.db.database import Database, NotCommitted, prepared

meta = MetaData()
things = Table(
    "things", meta,
    Column("pk", Integer, primary_key=True),
    Column("name", String(50), unique=True, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("on", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=True),
)
_BY_NAME = prepared(select(things).where(things.c.name == bindparam("name")))
_ALL_NAMES = prepared(select(things.c.name).order_by(things.c.name))
_RENAME = prepared(things.update().where(things.c.name == bindparam("old")).values(name=bindparam("new")))


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    async with database.transaction() as conn:
        await conn.execute(text("CREATE TABLE parents (id INTEGER PRIMARY KEY)"))
        await conn.execute(text(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, parent INTEGER "
            "REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)"))
        await conn.execute(text(
            "CREATE TABLE things (pk INTEGER PRIMARY KEY, name VARCHAR(50) UNIQUE NOT NULL, "
            "tags JSON NOT NULL, \"on\" BOOLEAN NOT NULL, at DATETIME)"))
    yield database, tmp_path / "t.db"
    await database.dispose()


def _names(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:  # another connection sees only committed rows
        return [r[0] for r in raw.execute("SELECT name FROM items ORDER BY name")]


def _count_commits(database: Database) -> list[str]:
    seen: list[str] = []
    assert database._sqlite is not None

    @event.listens_for(database._sqlite._engine, "before_cursor_execute")
    def _on(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement in ("COMMIT", "BEGIN IMMEDIATE"):
            seen.append(statement)

    return seen


async def _insert(database: Database, name: str, parent: int | None = None, *, shared: bool = True) -> None:
    async with database.transaction(shared=shared) as conn:
        await conn.execute(text("INSERT INTO items (name, parent) VALUES (:n, :p)"), {"n": name, "p": parent})


async def test_units_that_wait_for_each_other_share_one_commit(db) -> None:
    database, path = db
    statements = _count_commits(database)
    await asyncio.gather(*(_insert(database, f"n{i:03}") for i in range(50)))
    assert len(_names(path)) == 50
    assert 1 <= statements.count("COMMIT") < 50
    assert statements.count("COMMIT") == statements.count("BEGIN IMMEDIATE")


async def test_a_lone_unit_is_committed_before_it_returns(db) -> None:
    database, path = db
    await _insert(database, "alone")
    assert _names(path) == ["alone"]


async def test_a_failing_unit_in_a_batch_rolls_back_alone_and_only_its_caller_sees_the_error(db) -> None:
    database, path = db
    await _insert(database, "dup")

    async def failing() -> None:
        async with database.transaction(shared=True) as conn:
            await conn.execute(text("INSERT INTO items (name) VALUES ('partial')"))
            await conn.execute(text("INSERT INTO items (name) VALUES ('dup')"))

    results = await asyncio.gather(*(_insert(database, f"a{i}") for i in range(5)), failing(),
                                   *(_insert(database, f"b{i}") for i in range(5)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["NoneType"] * 5 + ["IntegrityError"] + ["NoneType"] * 5
    assert _names(path) == ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4", "dup"]


async def test_a_failed_commit_fails_every_unit_of_its_batch_and_stores_none_of_them(db) -> None:
    database, path = db
    # A deferred foreign key is checked by COMMIT only: the batch cannot commit.
    results = await asyncio.gather(_insert(database, "x1"), _insert(database, "orphan", parent=42),
                                   _insert(database, "x2"), return_exceptions=True)
    assert all(isinstance(r, NotCommitted) for r in results), results
    assert _names(path) == []
    await _insert(database, "after")  # the write connection is usable again
    assert _names(path) == ["after"]


async def test_units_run_one_at_a_time_and_see_the_earlier_units_of_their_batch(db) -> None:
    database, path = db
    seen: list[int] = []

    async def count_then_insert(name: str) -> None:
        async with database.transaction(shared=True) as conn:
            seen.append((await conn.execute(text("SELECT count(*) FROM items"))).scalar())
            await conn.execute(text("INSERT INTO items (name) VALUES (:n)"), {"n": name})

    await asyncio.gather(*(count_then_insert(f"s{i}") for i in range(10)))
    assert sorted(seen) == list(range(10))


async def test_units_that_do_not_share_are_one_transaction_each(db) -> None:
    database, path = db
    statements = _count_commits(database)
    await asyncio.gather(*(_insert(database, f"n{i}", shared=False) for i in range(10)))
    assert statements.count("COMMIT") == 10 and len(_names(path)) == 10


async def test_a_unit_that_does_not_share_leaves_no_transaction_open_when_it_returns(db) -> None:
    database, path = db
    shared = [asyncio.create_task(_insert(database, f"s{i}")) for i in range(5)]
    await asyncio.sleep(0)  # the shared units ran; their batch is still open
    await _insert(database, "solo", shared=False)  # joins the batch and commits it
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process can write at once: no lock is held
        other.execute("ROLLBACK")
    finally:
        other.close()
    await asyncio.gather(*shared)
    assert _names(path) == ["s0", "s1", "s2", "s3", "s4", "solo"]


async def test_without_group_commit_every_unit_is_its_own_transaction(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}", group_commit=False)
    try:
        async with database.transaction() as conn:
            await conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, parent INTEGER)"))
        statements = _count_commits(database)
        await asyncio.gather(*(_insert(database, f"n{i}", shared=True) for i in range(10)))
        assert statements.count("COMMIT") == 10
    finally:
        await database.dispose()


async def test_prepared_statements_give_the_rows_sqlalchemy_gives(db) -> None:
    database, _ = db
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    async with database.transaction() as conn:
        await conn.execute(things.insert(), [{"name": "a", "tags": {"k": [1, "x"]}, "on": True, "at": at},
                                             {"name": "b", "tags": [], "on": False, "at": None}])
        await conn.execute(_RENAME, {"old": "b", "new": "c"})
    async with database.read() as conn:
        fast = (await conn.execute(_BY_NAME, {"name": "a"})).first()
        slow = (await conn.execute(select(things).where(things.c.name == "a"))).first()
        assert fast is not None and slow is not None
        assert dict(fast._mapping) == dict(slow._mapping)
        assert fast.tags == {"k": [1, "x"]} and fast.on is True and fast.at == at and fast[1] == "a"
        assert list((await conn.execute(_ALL_NAMES)).scalars()) == ["a", "c"]
        assert (await conn.execute(_BY_NAME, {"name": "nobody"})).first() is None


async def test_a_prepared_statement_raises_what_sqlalchemy_raises(db) -> None:
    database, _ = db
    async with database.transaction() as conn:
        await conn.execute(things.insert(), [{"name": "a", "tags": [], "on": True},
                                             {"name": "b", "tags": [], "on": True}])
    with pytest.raises(IntegrityError):
        async with database.transaction() as conn:
            await conn.execute(_RENAME, {"old": "a", "new": "b"})
    with pytest.raises(StatementError):  # a parameter without a value
        async with database.read() as conn:
            await conn.execute(_BY_NAME, {})
