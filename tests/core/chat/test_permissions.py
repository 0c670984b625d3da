"""The one place that decides chat permissions, against Stream's default grants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from townhall.core.accounts.models import User
from townhall.core.chat.models import Channel, Member
from townhall.core.chat.permissions import Action, Actor, allowed, check
from townhall.core.errors import Forbidden

T0 = datetime(2024, 1, 1, tzinfo=UTC)
OWNER = User(id=1, chat_id="owner", created_at=T0, updated_at=T0)
MEMBER = User(id=2, chat_id="member", created_at=T0, updated_at=T0)
STRANGER = User(id=3, chat_id="stranger", created_at=T0, updated_at=T0)
ADMIN = User(id=4, chat_id="admin", role="admin", created_at=T0, updated_at=T0)
ANON = User(id=-1, chat_id="!anon", role="anonymous", created_at=T0, updated_at=T0)


def channel(type_: str, *, frozen: bool = False) -> Channel:
    return Channel(pk=1, type=type_, id="x", cid=f"{type_}:x", created_by_id=OWNER.id, frozen=frozen,
                   created_at=T0, updated_at=T0)


def member(user: User, role: str = "channel_member", **fields: object) -> Member:
    return Member(channel_pk=1, user_id=user.id, channel_role=role, created_at=T0, updated_at=T0, **fields)


def can(user: User, action: Action, type_: str = "messaging", *, member_role: str | None = None,
        **channel_fields: bool) -> bool:
    mem = member(user, member_role) if member_role else None
    return allowed(action, Actor(user), type_, mem, channel(type_, **channel_fields))


def test_server_side_calls_may_do_anything() -> None:
    assert all(allowed(a, Actor(None, server=True), "messaging", None, channel("messaging")) for a in Action)


@pytest.mark.parametrize("type_", ["messaging", "team", "commerce"])
def test_non_members_cannot_read_or_write_members_only_channels(type_: str) -> None:
    assert not can(STRANGER, Action.READ_CHANNEL, type_)
    assert not can(STRANGER, Action.SEND_MESSAGE, type_)
    assert can(STRANGER, Action.CREATE_CHANNEL, type_)


@pytest.mark.parametrize("type_", ["livestream", "gaming"])
def test_anyone_signed_in_may_read_and_write_open_channels(type_: str) -> None:
    assert can(STRANGER, Action.READ_CHANNEL, type_)
    assert can(STRANGER, Action.SEND_MESSAGE, type_)
    assert can(ANON, Action.READ_CHANNEL, type_)
    assert not can(ANON, Action.SEND_MESSAGE, type_)


def test_members_use_a_channel_but_only_moderators_and_owners_manage_it() -> None:
    for action in (Action.READ_CHANNEL, Action.SEND_MESSAGE, Action.SEND_REACTION, Action.MARK_READ):
        assert can(MEMBER, action, member_role="channel_member")
    for action in (Action.UPDATE_CHANNEL, Action.UPDATE_MEMBERS, Action.DELETE_ANY_MESSAGE,
                   Action.UPDATE_ANY_MESSAGE, Action.TRUNCATE_CHANNEL):
        assert not can(MEMBER, action, member_role="channel_member")
        assert can(MEMBER, action, member_role="channel_moderator")
        assert can(OWNER, action)  # the creator owns the channel, member or not
    assert not can(MEMBER, Action.DELETE_CHANNEL, member_role="channel_moderator")
    assert can(OWNER, Action.DELETE_CHANNEL)


def test_admins_may_do_anything_a_user_can_be_granted() -> None:
    assert all(can(ADMIN, a) for a in Action)


def test_a_frozen_channel_takes_no_messages_or_reactions_even_from_its_owner() -> None:
    assert not can(OWNER, Action.SEND_MESSAGE, frozen=True)
    assert not can(OWNER, Action.SEND_REACTION, frozen=True)
    assert can(OWNER, Action.READ_CHANNEL, frozen=True)


def test_a_rejected_invite_grants_nothing() -> None:
    rejected = member(MEMBER, invite_rejected_at=T0, invited=True)
    assert not allowed(Action.READ_CHANNEL, Actor(MEMBER), "messaging", rejected, channel("messaging"))


def test_check_raises_a_forbidden_error_naming_the_action() -> None:
    with pytest.raises(Forbidden) as excinfo:
        check(Action.READ_CHANNEL, Actor(STRANGER), "messaging", None, channel("messaging"))
    assert "ReadChannel" in excinfo.value.message and excinfo.value.code == "not_allowed"
