"""Demo content for ``townhall demo``: a few clubs, topics and scheduled events for given users.

Safe to run again: clubs are found by name, memberships and follows are idempotent, and an
upcoming event of the same name in the same club is not scheduled twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select

from townhall.core.clock import now
from townhall.core.communities import service as clubs
from townhall.core.communities.tables import communities
from townhall.core.rooms import scheduled
from townhall.core.rooms.tables import scheduled_events
from townhall.core.social import topics
from townhall.core.uow import UnitOfWork

# (name, description, topic ids, rules)
CLUBS: list[tuple[str, str, list[int], list[dict[str, str]]]] = [
    ("Townhall Commons", "Where the whole community meets: introductions, questions, ideas.", [1101, 1104],
     [{"title": "Be kind", "desc": "Disagree with ideas, not people."},
      {"title": "Stay on topic", "desc": "Start a new room for a new subject."}]),
    ("Night Owls Jazz", "Late-night listening sessions and talk about jazz old and new.", [504, 506],
     [{"title": "Share the mic", "desc": "Everyone gets a turn."}]),
    ("Founders Circle", "Builders helping builders: startups, products and the people behind them.",
     [101, 104, 204], []),
]
# (name, description, club index, days from today, hour UTC)
EVENTS: list[tuple[str, str, int, int, int]] = [
    ("Welcome hour", "New here? Come say hi and meet the regulars.", 0, 1, 18),
    ("Blue Note listening party", "We play a classic record side by side and talk about it.", 1, 2, 21),
    ("Pitch practice", "Five minutes to pitch, ten minutes of friendly feedback.", 2, 4, 17),
]
USER_TOPICS: list[int] = [1101, 504, 101, 1005, 402, 201, 702]


@dataclass
class DemoSummary:
    club_ids: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)


async def _club_by_name(uow: UnitOfWork, name: str) -> int | None:
    return (await uow.conn.execute(select(communities.c.id).where(
        communities.c.name_key == name.lower()))).scalar()


async def seed_demo(uow: UnitOfWork, user_ids: Sequence[int], *, at: datetime | None = None) -> DemoSummary:
    """Clubs made by the given users (the first ones are their admins), everyone a member or a
    follower, a few topics each, and upcoming events hosted by the clubs' admins."""
    summary = DemoSummary()
    if not user_ids:
        return summary
    at = at or now()
    users = list(dict.fromkeys(user_ids))
    for index, (name, description, topic_ids, rules) in enumerate(CLUBS):
        admin = users[index % len(users)]
        club_id = await _club_by_name(uow, name)
        if club_id is None:
            club_id = (await clubs.do_create_club(uow, admin, name=name, description=description, rules=rules,
                                                  topic_ids=topic_ids)).id
        summary.club_ids.append(club_id)
        club_admins = [m for m in users if (await clubs.relation(uow.conn, club_id, m)).is_admin]
        inviter = club_admins[0] if club_admins else admin
        for position, user_id in enumerate(users):
            if user_id == inviter:
                continue
            if (position + index) % 2 == 0:
                rel = await clubs.do_add_member(uow, inviter, club_id, user_id)
                if rel.is_pending_accept:
                    await clubs.do_accept_invite(uow, user_id, club_id)
            else:
                await clubs.do_follow_club(uow, user_id, club_id)
    for position, user_id in enumerate(users):
        for offset in range(3):
            await topics.do_add_user_topic(uow, user_id, USER_TOPICS[(position + offset) % len(USER_TOPICS)])
    for name, description, club_index, days, hour in EVENTS:
        club_id = summary.club_ids[club_index]
        existing = (await uow.conn.execute(select(scheduled_events.c.id).where(
            scheduled_events.c.name == name, scheduled_events.c.club_id == club_id,
            scheduled_events.c.time_start >= at))).scalar()
        if existing is not None:
            summary.event_ids.append(existing)
            continue
        creator = users[club_index % len(users)]
        if not (await clubs.relation(uow.conn, club_id, creator)).is_admin:
            continue  # the club changed hands since a previous run
        start = datetime.combine((at + timedelta(days=days)).date(), time(hour), tzinfo=at.tzinfo)
        co_hosts = [u for u in users if u != creator][:1]
        event = await scheduled.do_create_event(uow, creator, name=name, description=description, time_start=start,
                                                host_ids=co_hosts, club_id=club_id, at=at)
        summary.event_ids.append(event.id)
    return summary
