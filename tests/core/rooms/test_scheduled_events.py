"""Scheduled events in the core: scheduling, visibility, "upcoming for you", managing, hosts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from townhall.container import Container
from townhall.core.accounts.models import User
from townhall.core.clock import now
from townhall.core.communities import service as clubs
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.rooms import scheduled
from townhall.core.social import notifications as notes
from townhall.core.social.tables import follows

from ..communities.factories import make_club, make_users, notifications_of

SOON = timedelta(hours=2)


async def schedule(container: Container, creator: User, **fields: object) -> scheduled.ScheduledEvent:
    fields.setdefault("name", "Morning chat")
    fields.setdefault("time_start", (now() + SOON).timestamp())
    async with container.uow() as uow:
        return await scheduled.do_create_event(uow, creator.id, **fields)  # type: ignore[arg-type]


async def follow(container: Container, follower: User, followee: User) -> None:
    async with container.uow() as uow:
        await uow.conn.execute(insert(follows).values(
            follower_id=follower.id, followee_id=followee.id, notification_type=2, created_at=now()))


async def test_the_creator_hosts_the_event_and_the_other_hosts_hear_of_it(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    event = await schedule(container, ada, name="  Poetry   night ", description="verses",
                           host_ids=[bob.id, str(cat.id), ada.id, bob.id])
    assert event.name == "Poetry night" and event.description == "verses"
    assert event.host_ids == [ada.id, bob.id, cat.id]
    assert len(event.hashid) == 10 and not event.is_expired()
    assert await notifications_of(container, bob) == [(notes.EVENT_GUEST, ada.id, event.id)]
    assert await notifications_of(container, ada) == []


async def test_a_retried_scheduling_gets_the_same_event(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    start = (now() + SOON).replace(microsecond=0)
    first = await schedule(container, ada, time_start=start.isoformat())
    again = await schedule(container, ada, time_start=start.timestamp())
    assert again.id == first.id


@pytest.mark.parametrize("fields", [
    {"name": ""}, {"name": None}, {"name": "n" * 101}, {"description": 7}, {"description": "d" * 501},
    {"time_start": "tomorrow"}, {"time_start": None}, {"time_start": True},
    {"time_start": (now() - timedelta(hours=1)).timestamp()},
    {"time_start": (now() + timedelta(days=400)).timestamp()},
    {"host_ids": "1,2"}, {"host_ids": [0]}, {"host_ids": [10**9]}, {"host_ids": list(range(1, 20))},
    {"is_member_only": True}, {"is_member_only": "no"},
])
async def test_bad_events_are_refused_and_nothing_is_written(container: Container, fields: dict) -> None:
    (ada,) = await make_users(container, "ada")
    with pytest.raises(Invalid):
        await schedule(container, ada, **fields)
    async with container.read() as conn:
        _, count = await scheduled.events_for_user(conn, ada.id, ada.id, limit=10, offset=0)
    assert count == 0


async def test_only_club_admins_schedule_a_clubs_events(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada, members=[bob])
    with pytest.raises(Forbidden):
        await schedule(container, bob, club_id=club.id)
    with pytest.raises(NotFound):
        await schedule(container, ada, club_id=10**9)
    event = await schedule(container, ada, club_id=club.id)
    assert event.club_id == club.id


async def test_upcoming_for_you_holds_followed_hosts_and_followed_or_joined_clubs(container: Container) -> None:
    me, friend, stranger, admin = await make_users(container, "me", "friend", "stranger", "admin")
    followed_club = await make_club(container, admin)
    joined_club = await make_club(container, admin, members=[me])
    other_club = await make_club(container, admin)
    await follow(container, me, friend)
    async with container.uow() as uow:
        await clubs.do_follow_club(uow, me.id, followed_club.id)
    by_friend = await schedule(container, stranger, host_ids=[friend.id], time_start=(now() + SOON).timestamp())
    mine = await schedule(container, me, time_start=(now() + SOON * 2).timestamp())
    of_followed = await schedule(container, admin, club_id=followed_club.id,
                                 time_start=(now() + SOON * 3).timestamp())
    of_joined = await schedule(container, admin, club_id=joined_club.id, time_start=(now() + SOON * 4).timestamp())
    unrelated = await schedule(container, stranger, name="Elsewhere", club_id=None)
    of_other = await schedule(container, admin, club_id=other_club.id)
    async with container.read() as conn:
        found, count = await scheduled.upcoming_for_user(conn, me.id, limit=10, offset=0)
        first, _ = await scheduled.upcoming_for_user(conn, me.id, limit=2, offset=0)
        everything, _ = await scheduled.upcoming_for_user(conn, me.id, filtered=False, limit=1000, offset=0)
    assert [e.id for e in found] == [by_friend.id, mine.id, of_followed.id, of_joined.id] and count == 4
    assert [e.id for e in first] == [by_friend.id, mine.id]
    assert {unrelated.id, of_other.id} <= {e.id for e in everything}


async def test_past_and_started_events_are_no_longer_upcoming(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    event = await schedule(container, ada, time_start=(now() + timedelta(minutes=10)).timestamp())
    started = await schedule(container, ada, name="Started")
    async with container.uow() as uow:
        await scheduled.do_mark_started(uow, started.id, "abcdefgh")
    async with container.read() as conn:
        later = now() + timedelta(minutes=10) + scheduled.EXPIRES_AFTER + timedelta(minutes=1)
        assert (await scheduled.upcoming_for_user(conn, ada.id, limit=10, offset=0, at=later))[1] == 0
        found, _ = await scheduled.upcoming_for_user(conn, ada.id, limit=10, offset=0)
        assert [e.id for e in found] == [event.id]


async def test_member_only_events_are_seen_by_the_clubs_members_and_hosts_only(container: Container) -> None:
    ada, bob, guest, eve = await make_users(container, "ada", "bob", "guest", "eve")
    club = await make_club(container, ada, members=[bob])
    event = await schedule(container, ada, club_id=club.id, is_member_only=True, host_ids=[guest.id])
    async with container.read() as conn:
        for viewer in (ada, bob, guest):
            assert (await scheduled.access_event(conn, viewer.id, event_id=event.id)).id == event.id
        assert (await scheduled.access_event(conn, bob.id, hashid=event.hashid)).id == event.id
        with pytest.raises(NotFound):
            await scheduled.access_event(conn, eve.id, event_id=event.id)
        assert (await scheduled.events_for_user(conn, eve.id, ada.id, limit=10, offset=0))[1] == 0
        assert (await scheduled.events_for_user(conn, bob.id, ada.id, limit=10, offset=0))[1] == 1


async def test_the_creator_and_club_admins_edit_and_delete_an_event(container: Container) -> None:
    ada, bob, cat, eve = await make_users(container, "ada", "bob", "cat", "eve")
    club = await make_club(container, ada, members=[bob])
    async with container.uow() as uow:
        await clubs.do_add_admin(uow, ada.id, club.id, bob.id)
    event = await schedule(container, ada, club_id=club.id)
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await scheduled.do_edit_event(uow, eve.id, {"name": "Mine"}, event_id=event.id)
    async with container.uow() as uow:
        edited = await scheduled.do_edit_event(uow, bob.id, {
            "name": "Renamed", "description": "new", "host_ids": [cat.id],
            "time_start": (now() + SOON * 3).timestamp()}, event_id=event.id)
    assert (edited.name, edited.description, edited.host_ids) == ("Renamed", "new", [ada.id, cat.id])
    assert await notifications_of(container, cat) == [(notes.EVENT_GUEST, bob.id, event.id)]
    with pytest.raises(Invalid):
        async with container.uow() as uow:
            await scheduled.do_edit_event(uow, ada.id, {"name": "ok", "time_start": "yesterday"},
                                          hashid=edited.hashid)
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await scheduled.do_delete_event(uow, cat.id, event_id=edited.id)
    async with container.uow() as uow:
        await scheduled.do_delete_event(uow, bob.id, event_id=edited.id)
    async with container.read() as conn:
        with pytest.raises(NotFound):
            await scheduled.access_event(conn, ada.id, event_id=event.id)


async def test_editing_or_deleting_an_event_deleted_a_moment_ago_answers_not_found(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    event = await schedule(container, ada)
    async with container.uow() as uow:
        await scheduled.do_delete_event(uow, ada.id, event_id=event.id)
    with pytest.raises(NotFound):
        async with container.uow() as uow:
            await scheduled.do_edit_event(uow, ada.id, {"name": "Late"}, event_id=event.id)
    with pytest.raises(NotFound):
        async with container.uow() as uow:
            await scheduled.do_delete_event(uow, ada.id, hashid=event.hashid)


async def test_events_to_start_are_those_a_host_may_open_now(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    soon = await schedule(container, ada, host_ids=[bob.id], time_start=(now() + timedelta(minutes=5)).timestamp())
    await schedule(container, ada, name="Later", time_start=(now() + timedelta(hours=5)).timestamp())
    async with container.read() as conn:
        assert [e.id for e in await scheduled.events_to_start(conn, ada.id)] == [soon.id]
        assert [e.id for e in await scheduled.events_to_start(conn, bob.id)] == [soon.id]


def test_a_start_is_read_from_epoch_seconds_or_iso_text() -> None:
    assert scheduled.parse_start(0).year == 1970
    assert scheduled.parse_start("1700000000").year == 2023
    assert scheduled.parse_start("2030-01-02T03:04:05Z").hour == 3


async def test_events_to_start_are_capped(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    for i in range(3):
        await schedule(container, ada, name=f"Soon {i}", time_start=(now() + timedelta(minutes=5 + i)).timestamp())
    async with container.read() as conn:
        assert len(await scheduled.events_to_start(conn, ada.id, limit=2)) == 2
        assert len(await scheduled.events_to_start(conn, ada.id)) == 3 <= scheduled.MAX_TO_START
