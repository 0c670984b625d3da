"""Small factories of the experts member tests: members made through the core (a phone account with
its social profile, optional expert settings), and completed calls inserted as the calls core
would leave them."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from tests.phones import random_phone
from townhall.container import Container
from townhall.core.accounts import profiles, signin
from townhall.core.calls.models import COMPLETED
from townhall.core.calls.tables import call_billing_records, expert_calls
from townhall.core.clock import now
from townhall.core.experts import members


def unique_username(prefix: str = "m") -> str:
    return f"{prefix}{secrets.token_hex(6)}"[:16]


async def make_member(container: Container, *, name: str | None = None, username: str | None = None,
                      bio: str | None = None, twitter: str | None = None, email: str | None = None,
                      **settings: Any) -> tuple[int, str]:
    """A new member (phone account, profile, username; name, bio, twitter, email and expert settings
    (as clients send them) when given): (user id, username)."""
    username = username or unique_username()
    async with container.uow() as uow:
        account = await signin.do_open_account(uow, random_phone(), waitlist=False, invites_per_user=0)
        user_id = account.user_id
        if name:
            await profiles.do_update_name(uow, user_id, name)
        await profiles.do_update_username(uow, user_id, username)
        extra = {k: v for k, v in (("bio", bio), ("twitter", twitter), ("email", email)) if v}
        if extra:
            await profiles.do_update_profile(uow, user_id, **extra)
        if settings:
            await members.do_update_expert_settings(uow, user_id, settings)
    return user_id, username


async def completed_call(container: Container, seeker_id: int, expert_id: int, *, duration: int,
                         response: int, rate_cents: int = 0, at: datetime | None = None) -> int:
    """A completed call (``response`` seconds from request to connection), billed as the calls core
    bills it when it has a rate."""
    created = at or now() - timedelta(days=1)
    async with container.uow() as uow:
        call_id = (await uow.conn.execute(insert(expert_calls).values(
            seeker_id=seeker_id, expert_id=expert_id, reason="advice", hourly_rate_cents=rate_cents,
            status=COMPLETED, duration=duration, expires_at=created + timedelta(days=3),
            connected_at=created + timedelta(seconds=response), created_at=created,
            updated_at=created + timedelta(seconds=response + duration),
        ).returning(expert_calls.c.id))).scalar_one()
        if rate_cents:
            minutes = -(-duration // 60)
            await uow.conn.execute(insert(call_billing_records).values(
                call_id=call_id, payer_id=seeker_id, payee_id=expert_id, hourly_rate_cents=rate_cents,
                billed_seconds=duration, billed_minutes=minutes, amount_cents=rate_cents * minutes // 60,
                created_at=created))
    return int(call_id)
