"""Topics in the core: the seeded tree, users' topics."""

from __future__ import annotations

import pytest

from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.errors import Invalid, NotFound
from townhall.core.social import topics


async def _users(container: Container, *names: str) -> list[accounts.User]:
    import uuid

    async with container.uow() as uow:
        return await accounts.upsert_chat_users(
            uow, [accounts.UserFields(chat_id=f"{n}-{uuid.uuid4().hex[:8]}", name=n) for n in names])


async def test_the_topic_tree_is_seeded_with_categories_and_their_topics(container: Container) -> None:
    async with container.read() as conn:
        tree = await topics.get_all_topics(conn)
    assert len(tree) >= 8
    assert all(root.parent_id is None and root.children for root in tree)
    future = next(t for root in tree for t in root.children if t.id == 1005)
    assert (future.title, future.abbreviated_title, future.parent_id) == ("⏳ The Future", "The Future", 10)
    ids = [t.id for root in tree for t in [root, *root.children]]
    assert len(ids) == len(set(ids))


async def test_a_topic_is_found_by_id_and_an_unknown_one_is_not(container: Container) -> None:
    async with container.read() as conn:
        assert (await topics.get_topic(conn, 101)).abbreviated_title == "Startups"
        with pytest.raises(NotFound):
            await topics.get_topic(conn, 987654)


@pytest.mark.parametrize("value", [None, "abc", -3, 0, True, 1.5, [1]])
def test_topic_ids_must_be_positive_integers(value: object) -> None:
    with pytest.raises(Invalid):
        topics.check_topic_id(value)


def test_topic_ids_may_arrive_as_digit_strings() -> None:
    assert topics.check_topic_id("140") == 140


async def test_users_pick_topics_idempotently_and_are_listed_by_topic(container: Container) -> None:
    ada, bob = await _users(container, "ada", "bob")
    async with container.uow() as uow:
        await topics.do_add_user_topic(uow, ada.id, 603)
        await topics.do_add_user_topic(uow, ada.id, 603)
        await topics.do_add_user_topic(uow, ada.id, 201)
        await topics.do_add_user_topic(uow, bob.id, 603)
    async with container.read() as conn:
        assert [t.id for t in await topics.topics_of_user(conn, ada.id)] == [201, 603]
        ids, count = await topics.get_users_for_topic(conn, 603, limit=1, offset=0)
        rest, _ = await topics.get_users_for_topic(conn, 603, limit=10, offset=1)
    assert count >= 2 and ids == [bob.id] and ada.id in rest
    async with container.uow() as uow:
        await topics.do_remove_user_topic(uow, ada.id, 603)
        await topics.do_remove_user_topic(uow, ada.id, 603)
    async with container.read() as conn:
        assert [t.id for t in await topics.topics_of_user(conn, ada.id)] == [201]


async def test_unknown_topics_cannot_be_picked(container: Container) -> None:
    (ada,) = await _users(container, "ada")
    with pytest.raises(NotFound):
        async with container.uow() as uow:
            await topics.do_add_user_topic(uow, ada.id, 31337)
    with pytest.raises(NotFound):
        async with container.read() as conn:
            await topics.get_users_for_topic(conn, 31337, limit=10, offset=0)
