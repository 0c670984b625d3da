"""User and club search on the database's own full-text engine (migration 0012): SQLite FTS5
tables kept by triggers, PostgreSQL GIN expression indexes; prefix (type-ahead) matching, user
input never read as FTS syntax, the filters and pagination."""

from __future__ import annotations

import secrets

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection as SyncConnection

from townhall.container import Container
from townhall.core import fulltext
from townhall.core.accounts import profiles as accounts_profiles
from townhall.core.accounts import service as accounts
from townhall.core.accounts.signin import ensure_profile
from townhall.core.accounts.tables import profiles, users
from townhall.core.communities import service as clubs
from townhall.core.communities.tables import communities
from townhall.core.social import graph
from townhall.core.social.search import search_users
from townhall.db.database import Connection
from townhall.db.migrate import alembic_config, run_on_connection, upgrade


def _tag(prefix: str = "zf") -> str:
    return f"{prefix}{secrets.token_hex(5)}"


async def _member(container: Container, name: str) -> int:
    """A user with a (admitted) social profile, as sign-in makes one."""
    async with container.uow() as uow:
        (user,) = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=_tag("c"), name=name)])
        await ensure_profile(uow, user.id)
    return user.id


async def _find(container: Container, me: int, query: str, **filters: bool) -> list[int]:
    async with container.read() as conn:
        ids, count = await search_users(conn, me, query, limit=50, offset=0, **filters)
    assert count == len(ids)
    return ids


async def _clubs(container: Container, me: int, query: str, **filters: bool) -> list[int]:
    async with container.read() as conn:
        found, count = await clubs.search_clubs(conn, me, query, limit=50, offset=0, **filters)
    assert count == len(found)
    return [c.id for c in found]


async def _fts_rowids(conn: Connection, table: str, query: str) -> list[int]:
    return list((await conn.execute(sql_text(f"SELECT rowid FROM {table} WHERE {table} MATCH :q")
                                    .bindparams(q=query))).scalars().all())


async def _plan(conn: Connection, sql: str) -> str:
    await conn.execute(sql_text("SET LOCAL enable_seqscan = off"))
    return "\n".join((await conn.execute(sql_text(f"EXPLAIN {sql}"))).scalars().all())


async def test_user_search_runs_on_the_full_text_engine_of_the_database(container: Container) -> None:
    tag = _tag()
    me, ada = await _member(container, "Searcher"), await _member(container, f"Ada {tag}")
    assert await _find(container, me, tag) == [ada]
    async with container.read() as conn:
        if conn.dialect.name == "sqlite":
            assert await _fts_rowids(conn, "social_users_fts", f'"{tag}"') == [ada]
        else:
            users_plan = await _plan(conn, f"SELECT id FROM users WHERE {fulltext.USERS_TSVECTOR} @@ "
                                           f"to_tsquery('simple'::regconfig, '{tag}:*')")
            assert "ix_users_search" in users_plan, users_plan
            profiles_plan = await _plan(conn, f"SELECT user_id FROM profiles WHERE {fulltext.PROFILES_TSVECTOR} @@ "
                                              f"to_tsquery('simple'::regconfig, '{tag}:*')")
            assert "ix_profiles_search" in profiles_plan, profiles_plan


async def test_club_search_runs_on_the_full_text_engine_of_the_database(container: Container) -> None:
    tag = _tag()
    me = await _member(container, "Searcher")
    async with container.uow() as uow:
        club = await clubs.do_create_club(uow, me, name=f"{tag} Readers", description="books")
    assert await _clubs(container, me, tag) == [club.id]
    async with container.read() as conn:
        if conn.dialect.name == "sqlite":
            assert await _fts_rowids(conn, "social_clubs_fts", f'"{tag}"') == [club.id]
        else:
            plan = await _plan(conn, f"SELECT id FROM communities WHERE {fulltext.CLUBS_TSVECTOR} @@ "
                                     f"to_tsquery('simple'::regconfig, '{tag}:*')")
            assert "ix_communities_search" in plan, plan


async def test_the_user_index_follows_name_username_display_name_and_bio_edits(container: Container) -> None:
    me = await _member(container, "Searcher")
    old_name, new_name, handle, display, bio_word = _tag("on"), _tag("nn"), _tag("un"), _tag("dn"), _tag("bw")
    user = await _member(container, f"Grace {old_name}")
    async with container.uow() as uow:
        await accounts_profiles.do_update_name(uow, user, f"Grace {new_name}")
        await accounts_profiles.do_update_username(uow, user, handle)
        await accounts_profiles.do_update_profile(uow, user, displayname=f"G {display}", bio=f"I like {bio_word}.")
    assert await _find(container, me, old_name) == []
    for word in (new_name, handle, display, bio_word, f"grace {bio_word}"):
        assert await _find(container, me, word) == [user], word
    other = _tag("un")
    async with container.uow() as uow:
        await accounts_profiles.do_update_username(uow, user, other)
        await accounts_profiles.do_update_profile(uow, user, bio="nothing here")
    assert await _find(container, me, handle) == [] and await _find(container, me, bio_word) == []
    assert await _find(container, me, other) == [user]
    async with container.uow() as uow:  # the profile gone: its words go, the user's name stays
        await uow.conn.execute(delete(profiles).where(profiles.c.user_id == user))
    async with container.read() as conn:
        if conn.dialect.name == "sqlite":
            assert await _fts_rowids(conn, "social_users_fts", f'"{other}"') == []
            assert await _fts_rowids(conn, "social_users_fts", f'"{new_name}"') == [user]
    async with container.uow() as uow:
        await ensure_profile(uow, user)
    assert await _find(container, me, new_name) == [user]
    async with container.uow() as uow:
        await uow.conn.execute(delete(users).where(users.c.id == user))
    assert await _find(container, me, new_name) == []
    async with container.read() as conn:
        if conn.dialect.name == "sqlite":
            assert await _fts_rowids(conn, "social_users_fts", f'"{new_name}"') == []


async def test_the_club_index_follows_name_and_description_edits_and_deletes(container: Container) -> None:
    me = await _member(container, "Searcher")
    name, about, renamed, later = _tag("cn"), _tag("cd"), _tag("cr"), _tag("cl")
    async with container.uow() as uow:
        club = await clubs.do_create_club(uow, me, name=f"{name} Club", description=f"all {about}")
    assert await _clubs(container, me, about) == [club.id]
    async with container.uow() as uow:
        await clubs.do_update_club(uow, me, club.id, description=f"now {later}")
        await uow.conn.execute(update(communities).where(communities.c.id == club.id)
                               .values(name=f"{renamed} Club", name_key=f"{renamed} club"))
    assert await _clubs(container, me, about) == [] and await _clubs(container, me, name) == []
    assert await _clubs(container, me, later) == [club.id] and await _clubs(container, me, renamed) == [club.id]
    async with container.uow() as uow:
        await uow.conn.execute(delete(communities).where(communities.c.id == club.id))
    assert await _clubs(container, me, renamed) == []
    async with container.read() as conn:
        if conn.dialect.name == "sqlite":
            assert await _fts_rowids(conn, "social_clubs_fts", f'"{renamed}"') == []


async def test_a_prefix_finds_users_and_clubs_as_one_types(container: Container) -> None:
    tag = _tag()
    me, ada = await _member(container, "Searcher"), await _member(container, f"Ada {tag}Lovelace")
    async with container.uow() as uow:
        club = await clubs.do_create_club(uow, me, name=f"Jazz {tag}", description="Evenings of bebop")
    for typed in (f"ad {tag[:6]}", f"AD {tag}", f"{tag}lo", f"{tag}lovelace ada"):
        assert await _find(container, me, typed) == [ada], typed
    assert await _find(container, me, f"{tag}lovelacex") == []
    assert await _find(container, me, f"da {tag}") == []  # full-text: words are matched from their start
    for typed in (f"ja {tag[:6]}", f"{tag} beb", f"EVEN {tag}"):
        assert await _clubs(container, me, typed) == [club.id], typed
    assert await _clubs(container, me, f"{tag} bop") == []


BAD_SYNTAX = ['"', '""', "'", "*", "**", "-", "--x", ":", ":*", "&", "|", "&&", "||", "(", ")", "()", "!",
              "<->", "^", "\\", "\\'", "a:*", "x AND", "OR", "NOT x", "NEAR(a b)", "col:val", "{x}", "+", ";",
              "'); DROP TABLE users; --", "%", "_", "%_%", "\x00", "é'\"*"]


@pytest.mark.parametrize("query", BAD_SYNTAX)
async def test_search_input_is_never_read_as_full_text_syntax(container: Container, query: str) -> None:
    me = await _member(container, "Searcher")
    async with container.read() as conn:
        await search_users(conn, me, query, limit=5, offset=0)
        await clubs.search_clubs(conn, me, query, limit=5, offset=0)


async def test_syntax_characters_around_words_are_left_out_of_the_search(container: Container) -> None:
    tag = _tag()
    me, ada = await _member(container, "Searcher"), await _member(container, f"Ada {tag}")
    async with container.uow() as uow:
        club = await clubs.do_create_club(uow, me, name=f"Chess {tag}")
    for typed in (f'"{tag}', f"{tag}*", f"-{tag}", f"{tag}:*", f"({tag}) & |", f"'{tag}'", f"{tag}:", f"{tag}|"):
        assert await _find(container, me, typed) == [ada], typed
        assert await _clubs(container, me, typed) == [club.id], typed
    assert await _find(container, me, f"{tag} NOT") == []  # NOT is a word like any other, not an operator


async def test_user_search_keeps_its_ranking_filters_and_pages(container: Container) -> None:
    tag = _tag("zr")
    me = await _member(container, "Searcher")
    exact = await _member(container, "Somebody")
    async with container.uow() as uow:
        await accounts_profiles.do_update_username(uow, exact, tag)
    named = await _member(container, f"{tag} Person")
    in_bio = await _member(container, "Other Person")
    async with container.uow() as uow:
        await accounts_profiles.do_update_profile(uow, in_bio, bio=f"fan of {tag}")
    assert await _find(container, me, tag) == [exact, named, in_bio]
    async with container.read() as conn:
        page, count = await search_users(conn, me, tag[:8], limit=1, offset=1)
    assert (page, count) == ([named], 3)
    async with container.uow() as uow:
        await graph.do_follow(uow, me, named)
        await graph.do_follow(uow, in_bio, me)
        await graph.do_follow(uow, me, in_bio)
    assert await _find(container, me, tag, following_only=True) == [named, in_bio]
    assert await _find(container, me, tag, followers_only=True) == [in_bio]
    assert await _find(container, me, tag, cofollows_only=True) == [in_bio]


async def test_club_search_keeps_its_filters_and_pages(container: Container) -> None:
    tag = _tag("zc")
    me, friend = await _member(container, "Searcher"), await _member(container, "Friend")
    async with container.uow() as uow:
        first = await clubs.do_create_club(uow, friend, name=f"{tag} One")
        second = await clubs.do_create_club(uow, friend, name=f"Two {tag}")
        await clubs.do_follow_club(uow, me, second.id)
    assert await _clubs(container, me, tag) == [first.id, second.id]
    assert await _clubs(container, me, tag[:7], following_only=True) == [second.id]
    async with container.read() as conn:
        page, count = await clubs.search_clubs(conn, me, tag, limit=1, offset=1)
    assert ([c.id for c in page], count) == ([second.id], 2)


def _to(revision: str) -> object:
    def run(conn: SyncConnection) -> str | None:
        config = alembic_config("")
        config.attributes["connection"] = conn
        if revision == "0011":
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
        return MigrationContext.configure(conn).get_current_revision()
    return run


async def test_the_migration_indexes_existing_users_and_clubs_and_goes_down_cleanly(
        container: Container, migrated_db_url: str) -> None:
    tag = _tag("zm")
    user = await _member(container, f"Early {tag}")
    async with container.uow() as uow:
        club = await clubs.do_create_club(uow, user, name=f"Early {tag} Club")
    try:
        assert await run_on_connection(migrated_db_url, _to("0011")) == "0011"

        def leftovers(conn: SyncConnection) -> list[str]:
            if conn.dialect.name == "sqlite":
                return list(conn.execute(sql_text(
                    "SELECT name FROM sqlite_master WHERE name LIKE 'social_%_fts%'")).scalars())
            return list(conn.execute(sql_text(
                "SELECT indexname FROM pg_indexes WHERE indexname IN "
                "('ix_users_search', 'ix_profiles_search', 'ix_communities_search')")).scalars())

        assert await run_on_connection(migrated_db_url, leftovers) == []
    finally:
        await upgrade(migrated_db_url)
    assert await _find(container, user, tag) == [user]
    assert await _clubs(container, user, tag) == [club.id]
    async with container.read() as conn:
        assert (await conn.execute(select(users.c.name).where(users.c.id == user))).scalar_one() == f"Early {tag}"
