"""Demo people for ``townhall demo``: a handful of members with profiles who follow each other.

Safe to run again: people are found by their (fictional, 555-01xx) phone numbers, follows are
idempotent, and a username already taken by someone else is left alone.
"""

from __future__ import annotations

from sqlalchemy import update

from townhall.core.accounts import profiles
from townhall.core.accounts.tables import users
from townhall.core.errors import Conflict
from townhall.core.social import graph, invites
from townhall.core.uow import UnitOfWork

# (phone, name, username, bio)
PEOPLE: list[tuple[str, str, str, str]] = [
    ("+12025550101", "Ada Moderator", "ada", "Hosts the Welcome hour. Ask me anything about townhall."),
    ("+12025550102", "Ben Okafor", "benokafor", "Jazz on vinyl, late nights, good company."),
    ("+12025550103", "Chloe Martin", "chloe_m", "Product builder. Startups, design, and pitch practice."),
    ("+12025550104", "Dev Patel", "devpatel", "Engineer by day, amateur astronomer by night."),
    ("+12025550105", "Eva Lindqvist", "evalind", "Books, languages and long walks."),
    ("+12025550106", "Farid Haddad", "farid", "Community organiser. Loves a good debate."),
]
# (follower index, followee index)
FOLLOWS: list[tuple[int, int]] = [
    (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (0, 1), (0, 2), (1, 2), (2, 3), (3, 2), (4, 5), (5, 4), (3, 4),
]


async def seed_people(uow: UnitOfWork, *, invites_per_user: int) -> list[int]:
    """The demo members (created or found), admitted, with names, usernames, bios and follows."""
    ids: list[int] = []
    for phone, name, username, bio in PEOPLE:
        account = await invites.do_open_account(uow, phone, waitlist=False, invites_per_user=invites_per_user)
        user_id = account.user_id
        ids.append(user_id)
        await uow.conn.execute(update(users).where(users.c.id == user_id, users.c.name.is_(None)).values(name=name))
        profile = await profiles.access_profile(uow.conn, user_id)
        if profile.username is None:
            try:
                await profiles.do_update_username(uow, user_id, username)
            except Conflict:
                pass
        if profile.bio is None:
            await profiles.do_update_profile(uow, user_id, bio=bio)
    for follower, followee in FOLLOWS:
        await graph.do_follow(uow, ids[follower], ids[followee])
    return ids


async def do_follow_people(uow: UnitOfWork, user_id: int, people: list[int]) -> None:
    """Let a real account join the demo: it follows the demo people and a few follow it back."""
    for index, other in enumerate(people):
        if other == user_id:
            continue
        await graph.do_follow(uow, user_id, other)
        if index % 2 == 0:
            await graph.do_follow(uow, other, user_id)
