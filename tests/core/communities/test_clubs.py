"""Clubs in the core: creation, follows, membership, invites, nominations, settings, topics, search."""

from __future__ import annotations

import pytest

from townhall.container import Container
from townhall.core.communities import service as clubs
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.social import notifications as notes

from .factories import make_club, make_users, notifications_of, uid


async def relation(container: Container, club_id: int, user_id: int) -> clubs.Relation:
    async with container.read() as conn:
        return await clubs.relation(conn, club_id, user_id)


async def test_the_creator_of_a_club_is_its_first_admin_and_member(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    club = await make_club(container, ada, description="  Reading together ", rules=[{"title": "Be kind"}])
    assert club.num_members == 1 and club.num_followers == 1
    assert club.description == "Reading together"
    assert club.rules == [{"title": "Be kind", "desc": ""}]
    rel = await relation(container, club.id, ada.id)
    assert rel.is_admin and rel.is_member
    async with container.read() as conn:
        assert [c.id for c in await clubs.clubs_of_user(conn, ada.id)] == [club.id]


async def test_club_names_are_unique_whatever_their_case(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    name = uid("Book Club")
    await make_club(container, ada, name=name)
    with pytest.raises(Conflict):
        await make_club(container, bob, name=name.upper())


@pytest.mark.parametrize("fields", [
    {"name": "   "}, {"name": 42}, {"name": "x" * 101},
    {"description": 5}, {"description": "d" * 1001},
    {"rules": "be nice"}, {"rules": [{"desc": "no title"}]}, {"rules": [{"title": "t"}] * 11},
    {"is_community": "yes"}, {"topic_ids": [999999]},
])
async def test_bad_club_fields_are_refused_and_nothing_is_written(container: Container, fields: dict) -> None:
    (ada,) = await make_users(container, "ada")
    with pytest.raises((Invalid, NotFound)):
        await make_club(container, ada, **fields)
    async with container.read() as conn:
        assert await clubs.clubs_of_user(conn, ada.id) == []


async def test_an_invited_user_joins_by_accepting_and_the_admins_hear_of_it(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada)
    async with container.uow() as uow:
        rel = await clubs.do_add_member(uow, ada.id, club.id, bob.id, message="come in")
    assert rel.is_pending_accept and not rel.is_member
    assert await notifications_of(container, bob) == [(notes.INVITED_TO_CLUB, ada.id, club.id)]
    async with container.read() as conn:
        _, actionable = await notes.counts(conn, bob.id)
    assert actionable == 1

    async with container.uow() as uow:
        joined = await clubs.do_accept_invite(uow, bob.id, club.id)
    assert joined.num_members == 2 and joined.num_followers == 2
    rel = await relation(container, club.id, bob.id)
    assert rel.is_member and not rel.is_admin and rel.is_follower and rel.invited_by_id == ada.id
    assert (notes.JOINED_CLUB, bob.id, club.id) in await notifications_of(container, ada)
    async with container.read() as conn:
        _, actionable = await notes.counts(conn, bob.id)
    assert actionable == 0
    async with container.uow() as uow:  # a retried accept is harmless
        assert (await clubs.do_accept_invite(uow, bob.id, club.id)).num_members == 2


async def test_nobody_joins_a_club_without_an_invite(container: Container) -> None:
    ada, eve = await make_users(container, "ada", "eve")
    club = await make_club(container, ada)
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await clubs.do_accept_invite(uow, eve.id, club.id)
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await clubs.do_add_member(uow, eve.id, club.id, eve.id)
    assert not (await relation(container, club.id, eve.id)).is_member


async def test_a_members_nomination_waits_for_an_admins_approval(container: Container) -> None:
    ada, bob, cat, dan = await make_users(container, "ada", "bob", "cat", "dan")
    club = await make_club(container, ada, members=[bob])
    async with container.uow() as uow:
        rel = await clubs.do_add_member(uow, bob.id, club.id, cat.id)
        await clubs.do_add_member(uow, bob.id, club.id, dan.id)
    assert rel.is_pending_approval and not rel.is_pending_accept
    assert await notifications_of(container, cat) == []
    with pytest.raises(Forbidden):
        async with container.read() as conn:
            await clubs.get_nominations(conn, bob.id, club.id)
    async with container.read() as conn:
        nominations = await clubs.get_nominations(conn, ada.id, club.id)
    assert [(n.user_id, n.nominated_by_id) for n in nominations] == [(cat.id, bob.id), (dan.id, bob.id)]

    async with container.uow() as uow:
        await clubs.do_approve_nomination(uow, ada.id, club.id, nominations[0].id)
        await clubs.do_reject_nomination(uow, ada.id, club.id, nominations[1].id)
    assert (await relation(container, club.id, cat.id)).is_pending_accept
    assert await notifications_of(container, cat) == [(notes.INVITED_TO_CLUB, bob.id, club.id)]
    assert (await relation(container, club.id, dan.id)).invite_status is None
    with pytest.raises(NotFound):
        async with container.uow() as uow:
            await clubs.do_reject_nomination(uow, ada.id, club.id, nominations[1].id)


async def test_only_admins_change_a_club(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada, members=[bob])
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await clubs.do_update_club(uow, bob.id, club.id, description="mine now")
    async with container.uow() as uow:
        changed = await clubs.do_update_club(
            uow, ada.id, club.id, description="New", rules=[{"title": "One", "desc": "Two"}],
            is_follow_allowed=False, is_membership_private=True, is_community=True)
    assert (changed.description, changed.rules) == ("New", [{"title": "One", "desc": "Two"}])
    assert not changed.is_follow_allowed and changed.is_membership_private and changed.is_community
    with pytest.raises(Invalid):
        async with container.uow() as uow:
            await clubs.do_update_club(uow, ada.id, club.id, description="ok", rules=[{"title": ""}])
    async with container.read() as conn:
        assert (await clubs.access_club(conn, club.id)).description == "New"


async def test_following_a_club_is_idempotent_and_tells_its_admins(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada)
    for _ in range(2):
        async with container.uow() as uow:
            followed = await clubs.do_follow_club(uow, bob.id, club.id)
    assert followed.num_followers == 2
    assert await notifications_of(container, ada) == [(notes.FOLLOWED_CLUB, bob.id, club.id)]
    for _ in range(2):
        async with container.uow() as uow:
            assert (await clubs.do_unfollow_club(uow, bob.id, club.id)).num_followers == 1


async def test_a_club_that_allows_no_follows_cannot_be_followed(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada, is_follow_allowed=False)
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await clubs.do_follow_club(uow, bob.id, club.id)
    with pytest.raises(NotFound):
        async with container.uow() as uow:
            await clubs.do_follow_club(uow, bob.id, 10**9)


async def test_the_last_admin_can_neither_leave_nor_step_down(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada, members=[bob])
    for action in (clubs.do_remove_member, clubs.do_remove_admin):
        with pytest.raises(Forbidden):
            async with container.uow() as uow:
                await action(uow, ada.id, club.id, ada.id)
    async with container.uow() as uow:
        await clubs.do_add_admin(uow, ada.id, club.id, bob.id)
        await clubs.do_add_admin(uow, ada.id, club.id, bob.id)  # idempotent
        await clubs.do_remove_member(uow, ada.id, club.id, ada.id)
    assert not (await relation(container, club.id, ada.id)).is_member
    assert (await relation(container, club.id, bob.id)).is_admin


async def test_admins_remove_members_and_members_may_leave(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    club = await make_club(container, ada, members=[bob, cat])
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await clubs.do_remove_member(uow, bob.id, club.id, cat.id)
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await clubs.do_add_admin(uow, bob.id, club.id, bob.id)
    async with container.uow() as uow:
        await clubs.do_remove_member(uow, ada.id, club.id, cat.id)
        await clubs.do_remove_member(uow, bob.id, club.id, bob.id)
        await clubs.do_remove_member(uow, ada.id, club.id, bob.id)  # already gone: fine
    async with container.read() as conn:
        assert (await clubs.access_club(conn, club.id)).num_members == 1


async def test_only_members_can_be_made_admins(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada)
    with pytest.raises(Invalid):
        async with container.uow() as uow:
            await clubs.do_add_admin(uow, ada.id, club.id, bob.id)


async def test_members_are_listed_admins_first_and_followers_on_request(container: Container) -> None:
    ada, bob, cat, fan = await make_users(container, "ada", "bob", "cat", "fan")
    club = await make_club(container, ada, members=[bob, cat])
    async with container.uow() as uow:
        await clubs.do_add_admin(uow, ada.id, club.id, cat.id)
        await clubs.do_follow_club(uow, fan.id, club.id)
    async with container.read() as conn:
        people, count = await clubs.club_members(conn, fan.id, club.id, limit=2, offset=0)
        rest, _ = await clubs.club_members(conn, fan.id, club.id, limit=2, offset=2)
        everyone, total = await clubs.club_members(conn, fan.id, club.id, return_followers=True, limit=10,
                                                   offset=0)
    assert count == 3
    assert [p.user_id for p in people] == [ada.id, cat.id] and all(p.is_admin for p in people)
    assert [p.user_id for p in rest] == [bob.id]
    assert total == 4 and [p.user_id for p in everyone][-1] == fan.id and everyone[0].is_follower
    assert not everyone[-1].is_member and everyone[-1].is_follower


async def test_a_private_membership_is_listed_to_members_only(container: Container) -> None:
    ada, eve = await make_users(container, "ada", "eve")
    club = await make_club(container, ada, is_membership_private=True)
    with pytest.raises(Forbidden):
        async with container.read() as conn:
            await clubs.club_members(conn, eve.id, club.id, limit=10, offset=0)
    async with container.read() as conn:
        assert (await clubs.club_members(conn, ada.id, club.id, limit=10, offset=0))[1] == 1


async def test_admins_tag_clubs_with_topics_and_clubs_are_found_by_topic(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    small = await make_club(container, ada)
    big = await make_club(container, ada, topic_ids=[1005])
    async with container.uow() as uow:
        await clubs.do_add_club_topic(uow, ada.id, small.id, 1005)
        await clubs.do_add_club_topic(uow, ada.id, small.id, 1005)
        await clubs.do_follow_club(uow, bob.id, big.id)
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await clubs.do_add_club_topic(uow, bob.id, small.id, 1006)
    with pytest.raises(NotFound):
        async with container.uow() as uow:
            await clubs.do_add_club_topic(uow, ada.id, small.id, 424242)
    async with container.read() as conn:
        assert [t.id for t in await clubs.topics_of_club(conn, small.id)] == [1005]
        found, count = await clubs.clubs_for_topic(conn, 1005, limit=100, offset=0)
    ids = [c.id for c in found]
    assert count >= 2 and ids.index(big.id) < ids.index(small.id)
    async with container.uow() as uow:
        await clubs.do_remove_club_topic(uow, ada.id, small.id, 1005)
    async with container.read() as conn:
        assert await clubs.topics_of_club(conn, small.id) == []


async def test_a_club_has_at_most_five_topics(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    club = await make_club(container, ada, topic_ids=[101, 102, 103, 104, 105])
    with pytest.raises(Invalid):
        async with container.uow() as uow:
            await clubs.do_add_club_topic(uow, ada.id, club.id, 106)


async def test_clubs_are_searched_by_every_word_of_their_name_or_description(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    word = uid("zq").replace("-", "")
    poetry = await make_club(container, ada, name=f"{word} Poetry Circle")
    prose = await make_club(container, ada, name=uid("Prose"), description=f"all about {word.upper()} prose")
    await make_club(container, ada, name=uid("100% Other"))
    async with container.uow() as uow:
        await clubs.do_follow_club(uow, bob.id, prose.id)
    async with container.read() as conn:
        found, count = await clubs.search_clubs(conn, bob.id, word, limit=10, offset=0)
        assert count == 2 and [c.id for c in found] == [poetry.id, prose.id]
        found, _ = await clubs.search_clubs(conn, bob.id, f"{word} poetry", limit=10, offset=0)
        assert [c.id for c in found] == [poetry.id]
        found, _ = await clubs.search_clubs(conn, bob.id, word, following_only=True, limit=10, offset=0)
        assert [c.id for c in found] == [prose.id]
        # Full-text search: "%" is no wildcard but a sign between words, left out of the query.
        found, count = await clubs.search_clubs(conn, bob.id, f"{word}%", limit=10, offset=0)
        assert count == 2 and [c.id for c in found] == [poetry.id, prose.id]
        assert await clubs.search_clubs(conn, bob.id, "%", limit=10, offset=0) == ([], 0)
        with pytest.raises(Invalid):
            await clubs.search_clubs(conn, bob.id, ["x"], limit=10, offset=0)


async def test_startable_clubs_are_those_a_user_administers(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    mine = await make_club(container, bob)
    theirs = await make_club(container, ada, members=[bob])
    async with container.read() as conn:
        assert [c.id for c in await clubs.clubs_for_user(conn, bob.id)] == [mine.id, theirs.id]
        assert [c.id for c in await clubs.clubs_for_user(conn, bob.id, admin_only=True)] == [mine.id]
