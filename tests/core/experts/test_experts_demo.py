"""The experts demo content: expert settings and needs for the demo people, safe to seed twice."""

from __future__ import annotations

from townhall.container import Container
from townhall.core.calls import service as calls
from townhall.core.experts import members
from townhall.core.experts.demo import EXPERTS, NEEDS, seed_demo

from .factories import make_member


async def test_the_demo_sets_expert_rates_and_posts_needs_once(container: Container) -> None:
    ids = [(await make_member(container))[0] for _ in range(6)]
    async with container.uow() as uow:
        first = await seed_demo(uow, ids)
    async with container.uow() as uow:
        again = await seed_demo(uow, ids)
    assert len(first.expert_ids) == len(EXPERTS) and again.expert_ids == first.expert_ids
    assert len(first.need_ids) == len(NEEDS) and again.need_ids == first.need_ids
    async with container.read() as conn:
        assert await calls.hourly_rate_cents(conn, ids[2]) == 12000
        assert await calls.hourly_rate_cents(conn, ids[5]) == 4550
        own = await calls.list_needs(conn, ids[1], limit=10, offset=0)
        member, _ = await members.profile_of(conn, ids[3], viewer_id=ids[3])
    assert [n.id for n in own] == [first.need_ids[0]]
    assert member.id == ids[3]


async def test_the_experts_demo_with_no_people_seeds_nothing(container: Container) -> None:
    async with container.uow() as uow:
        seeded = await seed_demo(uow, [])
    assert seeded.expert_ids == [] and seeded.need_ids == []
