"""Demo content for ``townhall demo``: expert settings for the demo people and a few needs.

Safe to run again: expert settings are set (not added), and a need is posted once per requester
and description.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from townhall.core.calls import service as calls
from townhall.core.calls.tables import expert_needs
from townhall.core.experts import members
from townhall.core.uow import UnitOfWork

# Expert settings by demo person index (townhall.core.social.demo.PEOPLE).
EXPERTS: dict[int, dict[str, str]] = {
    0: {"hourly_rate": "0", "expertise": "Running online communities, moderation, onboarding new members.",
        "location": "Washington, DC", "timezone": "America/New_York"},
    2: {"hourly_rate": "120", "expertise": "Product strategy for early-stage startups, pitch decks, pricing.",
        "location": "Paris, France", "timezone": "Europe/Paris", "charity_name": "charity: water",
        "charity_url": "https://www.charitywater.org/"},
    3: {"hourly_rate": "80", "expertise": "Python backends, databases and scaling a small team's infrastructure.",
        "location": "Bangalore, India", "timezone": "Asia/Kolkata"},
    5: {"hourly_rate": "45.5", "expertise": "Community organising, facilitation and public speaking.",
        "location": "Montreal, Canada", "timezone": "America/Toronto"},
}
# (requester index, description, paid)
NEEDS: list[tuple[int, str, bool]] = [
    (1, "Looking for someone who has booked live jazz events to talk venues and pricing.", True),
    (4, "Would love an hour with a product person about turning a book club into an app.", False),
]


@dataclass
class ExpertsDemo:
    expert_ids: list[int] = field(default_factory=list)
    need_ids: list[int] = field(default_factory=list)


async def seed_demo(uow: UnitOfWork, people: Sequence[int]) -> ExpertsDemo:
    seeded = ExpertsDemo()
    for index, settings in EXPERTS.items():
        if index < len(people):
            await members.do_update_expert_settings(uow, people[index], settings)
            seeded.expert_ids.append(people[index])
    for index, description, paid in NEEDS:
        if index >= len(people):
            continue
        found = (await uow.conn.execute(select(expert_needs.c.id).where(
            expert_needs.c.requester_id == people[index], expert_needs.c.description == description))).scalar()
        if found is None:
            found = (await calls.do_post_need(uow, people[index], description, paid)).id
        seeded.need_ids.append(found)
    return seeded
