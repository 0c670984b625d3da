"""Clubs under concurrent requests: the database's unique rules answer as domain errors, never
as a crash; and search ranks names starting with the query literally."""

from __future__ import annotations

import asyncio

import pytest

from townhall.container import Container
from townhall.core.communities import service as clubs
from townhall.core.errors import Conflict, DomainError

from .factories import make_club, make_users, uid


async def test_creating_clubs_of_one_name_concurrently_makes_one_and_refuses_the_others(
    container: Container
) -> None:
    (ada,) = await make_users(container, "ada")
    name = uid("Race")

    async def create() -> str:
        try:
            async with container.uow() as uow:
                await clubs.do_create_club(uow, ada.id, name=name)
        except DomainError as exc:
            assert isinstance(exc, Conflict)
            return exc.code
        return "made"

    results = await asyncio.gather(*(create() for _ in range(5)))
    assert sorted(results) == ["club_name_taken"] * 4 + ["made"]


async def test_inviting_one_person_concurrently_leaves_one_invite(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada)

    async def add() -> None:
        async with container.uow() as uow:
            await clubs.do_add_member(uow, ada.id, club.id, bob.id)

    await asyncio.gather(*(add() for _ in range(5)))
    async with container.read() as conn:
        rel = await clubs.relation(conn, club.id, bob.id)
    assert rel.is_pending_accept and not rel.is_member


async def test_search_ranks_names_starting_with_the_query_taken_literally_first(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    tag = uid("t")  # e.g. "t-1e5a2b3c4d": PostgreSQL's parser reads such a word by its context
    inside = await make_club(container, ada, name=f"ab a_ {tag}")
    starting = await make_club(container, ada, name=f"a_ {tag}")
    async with container.read() as conn:
        found, count = await clubs.search_clubs(conn, ada.id, f"a_ {tag}", limit=10, offset=0)
    assert count == 2 and [c.id for c in found] == [starting.id, inside.id]


@pytest.mark.parametrize(("name", "query"), [
    ("ab a_ t-1e5a2b3c4d", "1e5a2b"),  # after a hyphen: one lexeme
    ("x 1e5a2b", "1e5a2b"),  # alone: a number and a word
    ("x 1e5a2b", "1e5"),
    ("ab t-123456", "1234"),  # a signed integer to PostgreSQL
    ("ab t-123456", "t 123456"),
    ("club 3.14x", "3"),
])
async def test_search_finds_names_with_number_like_words(container: Container, name: str, query: str) -> None:
    (ada,) = await make_users(container, "ada")
    club = await make_club(container, ada, name=f"{name} {uid('n')[2:].translate(_LETTERS)}")
    async with container.read() as conn:
        found, _ = await clubs.search_clubs(conn, ada.id, f"{query} {club.name.rsplit(' ', 1)[1]}", limit=10,
                                            offset=0)
    assert [c.id for c in found] == [club.id]


_LETTERS = str.maketrans("0123456789", "ghijklmnop")  # a hex tag made of letters only
