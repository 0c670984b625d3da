"""A call needs two members who may deal with each other: neither has blocked the other, and the
other party is someone the caller may see (not banned, deactivated or waitlisted: 404 as for nobody)
when the call is requested, offered for a need, or connected."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from townhall.container import Container
from townhall.core.accounts.tables import users
from townhall.core.calls import actions, service
from townhall.core.calls.models import PENDING
from townhall.core.errors import Forbidden, NotFound
from townhall.core.social import graph

from .factories import call_now, make_club, make_users, request


async def _block(container: Container, blocker: int, blocked: int) -> None:
    async with container.uow() as uow:
        await graph.do_block(uow, blocker, blocked)


async def _ban(container: Container, user_id: int) -> None:
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == user_id).values(banned=True))


async def test_a_member_cannot_request_a_call_with_someone_either_of_them_blocked(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    await _block(container, bob.id, ann.id)
    with pytest.raises(Forbidden) as refused:
        await request(container, ann, bob)
    assert refused.value.code == "blocked"
    await _block(container, ann.id, cat.id)
    with pytest.raises(Forbidden):
        await request(container, cat, ann)  # the blocked one cannot reach the blocker either


async def test_a_member_others_may_not_see_cannot_be_called(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    await _ban(container, bob.id)
    with pytest.raises(NotFound) as refused:
        await request(container, ann, bob)
    assert refused.value.code == "expert_not_found"


async def test_the_expert_cannot_connect_a_call_once_a_block_came_between_them(container: Container) -> None:
    ann, bob, cat, dan = await make_users(container, "ann", "bob", "cat", "dan")
    blocked = await request(container, ann, bob)
    await _block(container, ann.id, bob.id)
    with pytest.raises(Forbidden):
        await actions.connect(container, bob.id, blocked.id)
    assert (await call_now(container, blocked)).status == PENDING
    banned = await request(container, cat, dan)
    await _ban(container, cat.id)
    with pytest.raises(NotFound):
        await actions.connect(container, dan.id, banned.id)
    assert (await call_now(container, banned)).status == PENDING


async def test_a_need_cannot_be_fulfilled_across_a_block_or_for_a_hidden_requester(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    await make_club(container, ann, members=[bob, cat])
    async with container.uow() as uow:
        of_ann = await service.do_post_need(uow, ann.id, "Intro to a VC", False)
        of_cat = await service.do_post_need(uow, cat.id, "Hiring advice", False)
    await _block(container, ann.id, bob.id)
    with pytest.raises(Forbidden):
        await actions.fulfill_need(container, bob.id, of_ann.id)
    await _ban(container, cat.id)
    with pytest.raises(NotFound):
        await actions.fulfill_need(container, bob.id, of_cat.id)
