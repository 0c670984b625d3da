"""The demo content: clubs, topics and events for a handful of users, safe to seed twice."""

from __future__ import annotations

from townhall.container import Container
from townhall.core.communities import service as clubs
from townhall.core.communities.demo import CLUBS, EVENTS, seed_demo
from townhall.core.rooms import scheduled
from townhall.core.social import topics

from .factories import make_users


async def test_the_demo_seeds_clubs_topics_and_events_once(container: Container) -> None:
    users = await make_users(container, "ann", "ben", "cid", "dee")
    ids = [u.id for u in users]
    async with container.uow() as uow:
        first = await seed_demo(uow, ids)
    async with container.uow() as uow:
        again = await seed_demo(uow, ids)
    assert len(first.club_ids) == len(CLUBS) and again.club_ids == first.club_ids
    assert len(first.event_ids) == len(EVENTS) and again.event_ids == first.event_ids
    async with container.read() as conn:
        commons = await clubs.access_club(conn, first.club_ids[0])
        assert commons.num_members + commons.num_followers >= len(users)
        assert [t.id for t in await clubs.topics_of_club(conn, commons.id)] == [1101, 1104]
        assert all([await topics.topics_of_user(conn, u) for u in ids])
        upcoming, count = await scheduled.upcoming_for_user(conn, users[1].id, limit=10, offset=0)
    assert count >= 1 and {e.id for e in upcoming} <= set(first.event_ids)


async def test_the_demo_with_no_users_seeds_nothing(container: Container) -> None:
    async with container.uow() as uow:
        summary = await seed_demo(uow, [])
    assert summary.club_ids == [] and summary.event_ids == []
