"""Dialect-specific SQL that domain modules need, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, extract, func
from sqlalchemy.dialects import postgresql, sqlite

from townhall.db.database import Connection


def insert_ignoring_conflicts(conn: Connection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING (with RETURNING, no row comes back on a conflict)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def seconds_between(conn: Connection, start: Any, end: Any) -> Any:
    """SQL: the seconds (a fractional number) from ``start`` to ``end``, two timestamp expressions;
    null when either is null."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return extract("epoch", end - start)
