"""The SQLite write path: each unit of work is its own transaction on the one write connection;
concurrent units queue, a failing unit leaves no trace, and a returned unit is committed."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from townhall.core.clock import iso
from townhall.db.base import UTCDateTime
from townhall.db.database import Database


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    async with database.transaction() as conn:
        await conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield database, tmp_path / "t.db"
    await database.dispose()


def _names(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:  # a separate connection sees only committed rows
        return [r[0] for r in raw.execute("SELECT name FROM items ORDER BY name")]


async def _insert(database: Database, name: str) -> None:
    async with database.transaction() as conn:
        await conn.execute(text("INSERT INTO items (name) VALUES (:n)"), {"n": name})


async def test_a_unit_is_committed_when_transaction_returns(db) -> None:
    database, path = db
    await _insert(database, "a")
    assert _names(path) == ["a"]


async def test_many_concurrent_units_are_all_committed(db) -> None:
    database, path = db
    await asyncio.gather(*(_insert(database, f"n{i:03}") for i in range(200)))
    assert len(_names(path)) == 200


async def test_a_failing_unit_rolls_back_alone(db) -> None:
    database, path = db
    await _insert(database, "dup")

    async def failing() -> None:
        async with database.transaction() as conn:
            await conn.execute(text("INSERT INTO items (name) VALUES ('partial')"))
            await conn.execute(text("INSERT INTO items (name) VALUES ('dup')"))  # unique violation

    results = await asyncio.gather(
        _insert(database, "x1"), failing(), _insert(database, "x2"), return_exceptions=True
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    assert _names(path) == ["dup", "x1", "x2"]  # 'partial' never landed


async def test_an_exception_raised_by_the_caller_rolls_back_its_unit(db) -> None:
    database, path = db
    with pytest.raises(RuntimeError):
        async with database.transaction() as conn:
            await conn.execute(text("INSERT INTO items (name) VALUES ('nope')"))
            raise RuntimeError("changed my mind")
    await _insert(database, "yes")
    assert _names(path) == ["yes"]


async def test_a_cancelled_waiter_does_not_block_the_writer(db) -> None:
    database, path = db
    release = asyncio.Event()

    async def slow() -> None:
        async with database.transaction() as conn:
            await conn.execute(text("INSERT INTO items (name) VALUES ('slow')"))
            await release.wait()

    first = asyncio.create_task(slow())
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(_insert(database, "cancelled"))
    await asyncio.sleep(0.05)
    waiter.cancel()
    release.set()
    await asyncio.wait_for(first, 5)
    assert _names(path) == ["slow"]


async def test_waiting_for_another_process_lock_does_not_block_the_event_loop(db) -> None:
    database, path = db
    other = sqlite3.connect(path, isolation_level=None)  # another process, as SQLite sees it
    other.execute("BEGIN IMMEDIATE")
    writer = asyncio.create_task(_insert(database, "after"))
    ticks = 0
    for _ in range(10):  # the loop keeps running while the writer waits for the lock
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 10 and not writer.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writer, 5)
    assert _names(path) == ["after"]


@pytest.mark.parametrize("value", [
    datetime(2026, 11, 23, 14, 50, 1, 123456, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds
    datetime(5, 1, 2, 3, 4, 5, 7),  # naive (UTC), a short year
    datetime(2026, 6, 1, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
    None,
])
def test_prepared_statements_store_a_time_as_the_same_text_sqlalchemy_does(value: datetime | None) -> None:
    by_sqlalchemy = UTCDateTime()._cached_bind_processor(sqlite.dialect())
    assert by_sqlalchemy is not None
    assert UTCDateTime.sqlite_text(value) == by_sqlalchemy(value)


@pytest.mark.parametrize(("value", "text"), [
    (datetime(2026, 11, 23, 14, 50, 1, 123456, tzinfo=UTC), "2026-11-23T14:50:01.123456Z"),
    (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05.000000Z"),
    (datetime(5, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))), "0005-01-02T01:04:05.000000Z"),
])
def test_times_are_written_as_rfc_3339_in_utc_with_microseconds(value: datetime, text: str) -> None:
    assert iso(value) == text
