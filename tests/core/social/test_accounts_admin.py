"""Administering accounts goes through the core: a ban ends sessions and every surface hears of
it; the admin's list of accounts is a core query."""

from __future__ import annotations

import random

from townhall.container import Container
from townhall.core.accounts import profiles, sessions
from townhall.core.accounts.events import UserUpdated
from townhall.core.social import invites


async def _account(container: Container, *, waitlisted: bool = False) -> tuple[int, str]:
    phone = f"+1415{random.randint(2_000_000, 9_999_999)}"
    async with container.uow() as uow:
        account = await invites.do_open_account(uow, phone, waitlist=waitlisted, invites_per_user=1)
    return account.user_id, phone


async def test_a_ban_ends_the_sessions_and_is_announced_as_a_user_update(container: Container) -> None:
    user_id, _ = await _account(container)
    async with container.uow() as uow:
        tokens = await sessions.do_create_session(uow, user_id, secret="s" * 32, access_ttl=60, refresh_ttl=60)
    async with container.uow() as uow:
        assert await profiles.do_ban(uow, user_id, True) is True
        events = list(uow.events)
    assert [(type(e), e.user.id, e.user.banned) for e in events] == [(UserUpdated, user_id, True)]
    async with container.read() as conn:
        assert await sessions.session_by_auth_token(conn, tokens.auth_token) is None
    async with container.uow() as uow:
        assert await profiles.do_ban(uow, user_id, False) is True
        assert [e.user.banned for e in uow.events] == [False]
    async with container.uow() as uow:
        assert await profiles.do_ban(uow, 2**62, True) is False


async def test_the_account_list_shows_phones_and_can_keep_only_the_waitlisted(container: Container) -> None:
    admitted, _ = await _account(container)
    waiting, phone = await _account(container, waitlisted=True)
    async with container.read() as conn:
        everyone = {p.user_id: number for p, number in await profiles.list_profiles(conn, limit=10_000)}
        waitlisted = {p.user_id for p, _ in await profiles.list_profiles(conn, waitlisted_only=True, limit=10_000)}
    assert everyone[waiting] == phone and admitted in everyone
    assert waiting in waitlisted and admitted not in waitlisted
