"""Lists of clubs that are not paginated stop at a sane maximum."""

from __future__ import annotations

from townhall.container import Container
from townhall.core.communities import service as clubs

from .factories import make_club, make_users


async def test_a_users_clubs_and_a_clubs_nominations_are_capped(container: Container) -> None:
    ada, bob, cat, dan = await make_users(container, "ada", "bob", "cat", "dan")
    first = await make_club(container, ada, members=[bob])
    for _ in range(2):
        await make_club(container, ada)
    async with container.uow() as uow:
        for nominee in (cat, dan):
            await clubs.do_add_member(uow, bob.id, first.id, nominee.id)
    async with container.read() as conn:
        assert len(await clubs.clubs_for_user(conn, ada.id, limit=2)) == 2
        assert len(await clubs.clubs_of_user(conn, ada.id)) == 3 <= clubs.MAX_LIST
        assert [n.user_id for n in await clubs.get_nominations(conn, ada.id, first.id, limit=1)] == [cat.id]
        assert len(await clubs.get_nominations(conn, ada.id, first.id)) == 2


async def test_a_club_photo_url_cannot_be_set_through_update_club(container: Container) -> None:
    import pytest

    from townhall.core.errors import Invalid

    (ada,) = await make_users(container, "ada")
    club = await make_club(container, ada)
    with pytest.raises(Invalid):
        async with container.uow() as uow:
            await clubs.do_update_club(uow, ada.id, club.id, photo_url="javascript:alert(1)")
