"""Invites to the app and the waitlist: who may let whom in, and invites are never overspent."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select

from townhall.container import Container
from townhall.core.accounts import profiles
from townhall.core.errors import DomainError, Forbidden, Invalid
from townhall.core.social import invites, notifications
from townhall.core.social.tables import app_invites, contacts


def _phone() -> str:
    return f"+1415{random.randint(2_000_000, 9_999_999)}"


async def _account(container: Container, *, waitlisted: bool = False, invites_left: int = 3,
                   phone: str | None = None) -> tuple[int, str]:
    phone = phone or _phone()
    async with container.uow() as uow:
        account = await invites.do_open_account(uow, phone, waitlist=waitlisted, invites_per_user=invites_left)
    return account.user_id, phone


async def _invites_left(container: Container, user_id: int) -> int:
    async with container.read() as conn:
        return (await profiles.access_profile(conn, user_id)).num_invites


async def test_letting_a_stranger_in_from_the_waitlist_is_refused_and_costs_nothing(container: Container) -> None:
    insider, _ = await _account(container)
    stranger, _ = await _account(container, waitlisted=True)
    with pytest.raises(Forbidden) as refused:
        async with container.uow() as uow:
            await invites.do_invite_from_waitlist(uow, insider, stranger, 3)
    assert refused.value.code == "not_linked"
    assert await _invites_left(container, insider) == 3
    async with container.read() as conn:
        assert (await profiles.access_profile(conn, stranger)).waitlisted is True


async def test_a_waitlisted_contact_can_be_let_in_once_for_one_invite(container: Container) -> None:
    insider, _ = await _account(container)
    friend_phone = _phone()
    async with container.uow() as uow:
        await invites.do_upload_contacts(uow, insider, [{"phone_number": friend_phone, "name": "Friend"}])
    friend, _ = await _account(container, waitlisted=True, phone=friend_phone)
    async with container.read() as conn:
        told, _ = await notifications.list_notifications(conn, insider, actionable=True, limit=10, offset=0)
    assert [(n.kind, n.actor_id) for n in told] == [(notifications.WAITLISTED_FRIEND, friend)]
    async with container.uow() as uow:
        await invites.do_invite_from_waitlist(uow, insider, friend, 3)
    assert await _invites_left(container, insider) == 2
    with pytest.raises(Invalid):
        async with container.uow() as uow:
            await invites.do_invite_from_waitlist(uow, insider, friend, 3)
    assert await _invites_left(container, insider) == 2


async def test_someone_notified_of_a_waiting_friend_can_let_them_in_but_not_without_invites(
    container: Container
) -> None:
    insider, _ = await _account(container, invites_left=0)
    waiting, _ = await _account(container, waitlisted=True)
    async with container.uow() as uow:
        await notifications.do_notify(uow, user_id=insider, kind=notifications.WAITLISTED_FRIEND, actor_id=waiting)
    with pytest.raises(Invalid) as refused:
        async with container.uow() as uow:
            await invites.do_invite_from_waitlist(uow, insider, waiting, 3)
    assert refused.value.code == "no_invites"
    async with container.read() as conn:
        assert (await profiles.access_profile(conn, waiting)).waitlisted is True


async def test_concurrent_invites_never_spend_more_invites_than_there_are(container: Container) -> None:
    insider, _ = await _account(container, invites_left=3)

    async def invite() -> str:
        try:
            async with container.uow() as uow:
                await invites.do_invite_to_app(uow, insider, _phone(), invites_per_user=3)
        except DomainError as exc:
            return exc.code
        return "ok"

    results = await asyncio.gather(*(invite() for _ in range(8)))
    assert sorted(results) == ["no_invites"] * 5 + ["ok"] * 3
    assert await _invites_left(container, insider) == 0
    async with container.read() as conn:
        made = (await conn.execute(select(func.count()).select_from(app_invites).where(
            app_invites.c.inviter_id == insider))).scalar_one()
    assert made == 3


async def test_inviting_the_same_number_concurrently_costs_one_invite(container: Container) -> None:
    insider, _ = await _account(container, invites_left=3)
    phone = _phone()

    async def invite() -> None:
        async with container.uow() as uow:
            await invites.do_invite_to_app(uow, insider, phone, invites_per_user=3)

    await asyncio.gather(*(invite() for _ in range(4)))
    assert await _invites_left(container, insider) == 2


async def test_waitlisted_callers_are_refused_by_the_core_check(container: Container) -> None:
    waiting, _ = await _account(container, waitlisted=True)
    with pytest.raises(Forbidden) as refused:
        async with container.uow() as uow:
            await invites.do_invite_to_app(uow, waiting, _phone(), invites_per_user=3)
    assert refused.value.code == "waitlisted" and refused.value.message == profiles.WAITLISTED


async def test_an_owner_keeps_a_bounded_number_of_contacts(container: Container,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invites, "MAX_CONTACTS", 10)
    owner, _ = await _account(container)
    async with container.uow() as uow:
        assert await invites.do_upload_contacts(uow, owner, [{"phone_number": _phone()} for _ in range(8)]) == 8
    with pytest.raises(Invalid) as refused:
        async with container.uow() as uow:
            await invites.do_upload_contacts(uow, owner, [{"phone_number": _phone()} for _ in range(8)])
    assert refused.value.code == "too_many_contacts"
    async with container.read() as conn:
        kept = (await conn.execute(select(func.count()).select_from(contacts).where(
            contacts.c.owner_id == owner))).scalar_one()
        suggested = await invites.suggested_invites(conn, owner)
    assert kept == 8 and len(suggested) == 8


async def test_suggested_invites_combine_kept_and_given_contacts_without_members(container: Container) -> None:
    owner, _ = await _account(container)
    member, member_phone = await _account(container)
    kept_phone, given_phone = _phone(), _phone()
    async with container.uow() as uow:
        await invites.do_upload_contacts(uow, owner, [{"phone_number": kept_phone, "name": "Kept"},
                                                      {"phone_number": member_phone, "name": "Member"}])
        await invites.do_upload_contacts(uow, member, [{"phone_number": given_phone}])
    async with container.read() as conn:
        found = await invites.suggested_invites(conn, owner, {given_phone: "Given", member_phone: None})
    assert [(s.phone_number, s.name, s.num_friends) for s in found] == [(given_phone, "Given", 1),
                                                                       (kept_phone, "Kept", 0)]
