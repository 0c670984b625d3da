"""Small factories for club and event core tests: unique users and clubs on the shared container."""

from __future__ import annotations

import uuid

from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.accounts.models import User
from townhall.core.communities import service as clubs
from townhall.core.communities.models import Club


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def make_users(container: Container, *names: str) -> list[User]:
    async with container.uow() as uow:
        return await accounts.upsert_chat_users(
            uow, [accounts.UserFields(chat_id=uid(n), name=n) for n in names])


async def make_club(container: Container, creator: User, *, members: list[User] = (),  # type: ignore[assignment]
                    name: str | None = None, **fields: object) -> Club:
    """A club made by ``creator`` (its admin), with ``members`` invited and accepted."""
    async with container.uow() as uow:
        club = await clubs.do_create_club(uow, creator.id, name=name or uid("Club"), **fields)
        for member in members:
            await clubs.do_add_member(uow, creator.id, club.id, member.id)
            await clubs.do_accept_invite(uow, member.id, club.id)
    async with container.read() as conn:
        return await clubs.access_club(conn, club.id)


async def notifications_of(container: Container, user: User) -> list[tuple[int, int | None, int | None]]:
    """(kind, actor_id, club_id or event_id) of a user's notifications, oldest first."""
    from townhall.core.social import notifications

    async with container.read() as conn:
        found, _ = await notifications.list_notifications(conn, user.id, limit=100, offset=0)
    return [(n.kind, n.actor_id, n.club_id if n.club_id is not None else n.event_id) for n in reversed(found)]
