"""Expert search on the database's full-text engine (migration 0016): kept right as names, profiles
and expert settings change, and the migration indexes existing members and goes down cleanly."""

from __future__ import annotations

import secrets

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text as sql_text
from sqlalchemy import update
from sqlalchemy.engine import Connection as SyncConnection

from tests.core.experts.factories import make_member
from townhall.container import Container
from townhall.core.accounts import profiles
from townhall.core.accounts.tables import users
from townhall.core.experts import members, search
from townhall.db.migrate import alembic_config, run_on_connection, upgrade


def tag() -> str:
    return "zx" + secrets.token_hex(4)


async def found(container: Container, query: str) -> list[int]:
    async with container.read() as conn:
        ids, total = await search.search_experts(conn, query)
    assert total == len(ids)
    return ids


async def test_names_screen_names_bios_expertise_and_locations_are_searched(container: Container) -> None:
    words = [tag() for _ in range(5)]
    by_name, _ = await make_member(container, name=f"Ada {words[0]}")
    by_username, username = await make_member(container, username=words[1])
    by_bio, _ = await make_member(container, bio=f"Loves {words[2]}.")
    by_expertise, _ = await make_member(container, expertise=f"{words[3]} strategy")
    by_location, _ = await make_member(container, location=f"{words[4]}, Canada")
    for word, user_id in zip(words, (by_name, by_username, by_bio, by_expertise, by_location), strict=True):
        assert await found(container, word.upper()[:7]) == [user_id], word


async def test_the_index_follows_every_change(container: Container) -> None:
    old, new = tag(), tag()
    user_id, _ = await make_member(container, name=f"Grace {old}", bio=f"{old} bio")
    async with container.uow() as uow:
        await profiles.do_update_name(uow, user_id, f"Grace {new}")
        await profiles.do_update_profile(uow, user_id, bio="nothing")
    assert await found(container, old) == []
    assert await found(container, new) == [user_id]
    async with container.uow() as uow:
        await members.do_update_expert_settings(uow, user_id, {"location": f"{old} town"})
        await members.do_count_profile_view(uow, user_id + 1, user_id)
    assert await found(container, old) == [user_id]
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == user_id).values(deleted_at=users.c.created_at))
    assert await found(container, new) == []


async def test_only_members_others_may_see_are_found(container: Container) -> None:
    word = tag()
    shown, _ = await make_member(container, name=f"Shown {word}")
    banned, _ = await make_member(container, name=f"Banned {word}")
    async with container.uow() as uow:
        await profiles.do_ban(uow, banned, True)
    assert await found(container, word) == [shown]


def _to(revision: str, down: bool) -> object:
    def run(conn: SyncConnection) -> str | None:
        config = alembic_config("")
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)
        return MigrationContext.configure(conn).get_current_revision()
    return run


def _leftovers(conn: SyncConnection) -> list[str]:
    if conn.dialect.name == "sqlite":
        return list(conn.execute(sql_text("SELECT name FROM sqlite_master WHERE name LIKE 'experts_fts%'")).scalars())
    return list(conn.execute(sql_text(
        "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_expert_profiles_search'")).scalars())


async def test_the_migration_indexes_existing_members_and_goes_down_cleanly(
    container: Container, migrated_db_url: str
) -> None:
    word = tag()
    try:
        assert await run_on_connection(migrated_db_url, _to("0015", down=True)) == "0015"
        assert await run_on_connection(migrated_db_url, _leftovers) == []
        early, _ = await make_member(container, name=f"Early {word}", expertise=f"{word} sales")
    finally:
        await upgrade(migrated_db_url)
    assert await found(container, word) == [early]
    assert await found(container, f"{word} sales") == [early]
