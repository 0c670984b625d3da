"""Organizations (communities) as the experts surface lists them: every organization's member ids
come from one batch query that answers what the per-community query does."""

from __future__ import annotations

from tests.core.chat.test_query_channels import counting_queries
from tests.core.communities.factories import make_club, make_users
from townhall.container import Container
from townhall.core.communities import service as communities
from townhall.core.experts import organizations


async def test_the_batch_of_member_ids_answers_what_each_community_answers(container: Container) -> None:
    ann, bob, cat, dan = await make_users(container, "ann", "bob", "cat", "dan")
    big = await make_club(container, ann, members=[bob, cat, dan])
    small = await make_club(container, bob, members=[ann])
    lonely = await make_club(container, cat)
    ids = [big.id, small.id, lonely.id, 2**40]
    async with container.read() as conn:
        for limit in (1, 2, 50):
            batch = await communities.member_ids_of_clubs(conn, ids + [big.id], limit=limit)
            assert batch == {i: await communities.member_ids(conn, i, limit=limit) for i in ids}
        assert await communities.member_ids_of_clubs(conn, []) == {}
    assert batch[big.id] == [ann.id, bob.id, cat.id, dan.id] and batch[2**40] == []


async def test_a_members_organizations_and_their_member_ids_take_two_queries(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    clubs = [await make_club(container, ann, members=[bob]) for _ in range(3)]
    await make_club(container, cat, members=[ann, bob])
    async with container.read() as conn:
        with counting_queries(container) as statements:
            found = await organizations.organizations_of(conn, bob.id)
    assert len(found) == 4 and {org.club.id for org, _ in found} >= {c.id for c in clubs}
    assert all(sorted(ids) in ([ann.id, bob.id], [ann.id, bob.id, cat.id]) for _, ids in found)
    assert len(statements) == 2  # the organizations, then every one's member ids
