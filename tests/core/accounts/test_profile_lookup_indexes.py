"""Members are looked up by e-mail address and Twitter handle (the experts surface's
``find_member_id``): both lookups, in that query's shape, are answered from an index."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from townhall.container import Container
from townhall.core.accounts.tables import profiles

BY_TWITTER = (select(profiles.c.user_id).where(func.lower(profiles.c.twitter) == "someone")
              .order_by(profiles.c.user_id).limit(1))
BY_EMAIL = (select(profiles.c.user_id).where(profiles.c.email == "someone@example.com")
            .order_by(profiles.c.user_id).limit(1))


async def _plan(container: Container, statement: Any) -> str:
    async with container.uow() as uow:  # a transaction: SET LOCAL ends with it
        sql = str(statement.compile(dialect=uow.conn.dialect, compile_kwargs={"literal_binds": True}))
        if uow.conn.dialect.name == "sqlite":
            rows = (await uow.conn.execute(text("EXPLAIN QUERY PLAN " + sql))).all()
            return "\n".join(str(row[-1]) for row in rows)
        # A test database is tiny: without this the planner rightly prefers reading the table.
        await uow.conn.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(row[0] for row in (await uow.conn.execute(text("EXPLAIN " + sql))).all())


@pytest.mark.parametrize(("statement", "index"), [(BY_TWITTER, "ix_profiles_twitter_lower"),
                                                  (BY_EMAIL, "ix_profiles_email")])
async def test_member_lookups_by_twitter_handle_and_email_use_an_index_that_also_orders_them(
        container: Container, statement: Any, index: str) -> None:
    plan = await _plan(container, statement)
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan  # the index gives the oldest account first
