"""Notifications are part of the transaction that causes them."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from townhall.container import Container
from townhall.core.accounts.tables import users
from townhall.core.clock import now
from townhall.core.social import graph, notifications


async def _user(container: Container) -> int:
    async with container.uow() as uow:
        stamp = now()
        return int((await uow.conn.execute(insert(users).values(
            role="user", invisible=False, banned=False, custom={}, created_at=stamp, updated_at=stamp,
        ).returning(users.c.id))).scalar_one())


async def test_a_follow_and_its_notification_commit_or_roll_back_together(container: Container) -> None:
    fan, star = await _user(container), await _user(container)
    with pytest.raises(RuntimeError):
        async with container.uow() as uow:
            await graph.do_follow(uow, fan, star)
            raise RuntimeError("the request failed after the follow")
    async with container.read() as conn:
        assert await notifications.list_notifications(conn, star, limit=10, offset=0) == ([], 0)
        assert await graph.following_ids(conn, fan) == []
    async with container.uow() as uow:
        assert await graph.do_follow(uow, fan, star) is True
        assert await graph.do_follow(uow, fan, star) is False
    async with container.read() as conn:
        found, count = await notifications.list_notifications(conn, star, limit=10, offset=0)
    assert count == 1 and (found[0].kind, found[0].actor_id) == (notifications.FOLLOWS_YOU, fan)


async def test_do_notify_keeps_club_and_event_references(container: Container) -> None:
    user, actor = await _user(container), await _user(container)
    async with container.uow() as uow:
        await notifications.do_notify(uow, user_id=user, kind=notifications.JOINED_CLUB, actor_id=actor, club_id=5,
                                      message="joined your club")
        await notifications.do_notify(uow, user_id=user, kind=notifications.EVENT_HOST, event_id=9)
    async with container.read() as conn:
        found, _ = await notifications.list_notifications(conn, user, limit=10, offset=0)
        unread, actionable = await notifications.counts(conn, user)
    assert [(n.kind, n.club_id, n.event_id) for n in found] == [(15, None, 9), (13, 5, None)]
    assert (unread, actionable) == (2, 0)


async def _member(container: Container) -> int:
    import random

    from townhall.core.social import invites

    async with container.uow() as uow:
        account = await invites.do_open_account(uow, f"+1415{random.randint(2_000_000, 9_999_999)}",
                                                waitlist=False, invites_per_user=0)
    return account.user_id


async def test_system_enabled_beyond_a_32_bit_integer_is_refused_as_invalid(container: Container) -> None:
    from townhall.core.errors import Invalid

    user = await _member(container)
    for wrong in (2**31, 2**40, -5):
        with pytest.raises(Invalid):
            async with container.uow() as uow:
                await notifications.do_update_settings(uow, user, system_enabled=wrong)
    async with container.uow() as uow:
        await notifications.do_update_settings(uow, user, system_enabled=2**31 - 1)


async def test_concurrent_first_settings_updates_do_not_collide(container: Container) -> None:
    import asyncio

    user = await _member(container)

    async def update(frequency: int) -> None:
        async with container.uow() as uow:
            await notifications.do_update_settings(uow, user, frequency=frequency)

    await asyncio.gather(*(update(1 + i % 3) for i in range(6)))
    async with container.read() as conn:
        assert (await notifications.get_settings(conn, user)).frequency in (1, 2, 3)


async def test_waitlisted_accounts_may_not_change_notification_settings(container: Container) -> None:
    import random

    from townhall.core.errors import Forbidden
    from townhall.core.social import invites

    async with container.uow() as uow:
        waiting = (await invites.do_open_account(uow, f"+1415{random.randint(2_000_000, 9_999_999)}",
                                                 waitlist=True, invites_per_user=0)).user_id
    with pytest.raises(Forbidden):
        async with container.uow() as uow:
            await notifications.do_update_settings(uow, waiting, frequency=1)


async def test_people_added_to_a_scheduled_event_hear_they_are_its_guests_and_never_of_their_own_doing(
        container: Container) -> None:
    creator, guest, later, admin = [await _user(container) for _ in range(4)]
    async with container.uow() as uow:  # scheduled: the creator first, then the guests they named
        await notifications.do_notify_event_hosts(uow, event_id=41, host_ids=[creator, guest], before=[],
                                                  actor_id=creator)
    async with container.uow() as uow:  # a club admin edits the list: only the newcomer hears of it
        await notifications.do_notify_event_hosts(uow, event_id=41, host_ids=[creator, guest, later],
                                                  before=[creator, guest], actor_id=admin)

    async def kinds(user: int) -> list[tuple[int, int | None, int | None]]:
        async with container.read() as conn:
            found, _ = await notifications.list_notifications(conn, user, limit=10, offset=0)
        return [(n.kind, n.actor_id, n.event_id) for n in found]

    assert await kinds(creator) == []
    assert await kinds(guest) == [(notifications.EVENT_GUEST, creator, 41)]
    assert await kinds(later) == [(notifications.EVENT_GUEST, admin, 41)]


async def test_the_host_of_an_event_someone_else_lists_hears_they_host_it(container: Container) -> None:
    host, admin = await _user(container), await _user(container)
    async with container.uow() as uow:
        await notifications.do_notify_event_hosts(uow, event_id=42, host_ids=[host], before=[], actor_id=admin)
    async with container.read() as conn:
        found, _ = await notifications.list_notifications(conn, host, limit=10, offset=0)
    assert [(n.kind, n.actor_id) for n in found] == [(notifications.EVENT_HOST, admin)]
