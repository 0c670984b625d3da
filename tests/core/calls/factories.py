"""Helpers of the calls core tests: members with a rate, calls at a given time, media events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert

from tests.recorder import Recorder
from townhall.container import Container
from townhall.core.accounts.models import User
from townhall.core.calls import actions, service
from townhall.core.calls.models import Call
from townhall.core.clock import now
from townhall.core.experts.tables import expert_profiles
from townhall.media.base import MediaEvent

from ..communities.factories import make_club, make_users

__all__ = ["Recorder", "call_now", "dropped", "joined", "left", "make_club", "make_users", "request", "set_rate"]


async def set_rate(container: Container, user: User, cents: int) -> None:
    """The member's hourly rate (their expert profile made or changed)."""
    async with container.uow() as uow:
        await uow.conn.execute(delete(expert_profiles).where(expert_profiles.c.user_id == user.id))
        await uow.conn.execute(insert(expert_profiles).values(user_id=user.id, hourly_rate_cents=cents,
                                                              updated_at=now()))


async def request(container: Container, seeker: User, expert: User, reason: str = "pitching advice",
                  **options: Any) -> Call:
    return await actions.request_call(container, seeker.id, expert.id, reason, **options)


async def call_now(container: Container, call: Call) -> Call:
    async with container.read() as conn:
        found = await service.get_call(conn, call.id)
    assert found is not None
    return found


async def joined(container: Container, call: Call, user: User, at: datetime | None = None) -> Call:
    await actions.on_media_event(container, MediaEvent("joined", call.room, str(user.id)), at=at)
    return await call_now(container, call)


async def left(container: Container, call: Call, user: User, at: datetime | None = None) -> Call:
    """The party hangs up (a voluntary leave)."""
    await actions.on_media_event(container, MediaEvent("left", call.room, str(user.id), voluntary=True), at=at)
    return await call_now(container, call)


async def dropped(container: Container, call: Call, user: User, at: datetime | None = None) -> Call:
    """The party drops out (a leave not on purpose, as Janus reports every leave)."""
    await actions.on_media_event(container, MediaEvent("left", call.room, str(user.id), voluntary=False), at=at)
    return await call_now(container, call)

