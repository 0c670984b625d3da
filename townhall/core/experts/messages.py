"""Direct messages between two members ARE chat: the conversation of members a and b is the
distinct chat channel of the two (type "messaging", members [a, b], no id: the id Stream's SDKs
derive, ``chat.channels.distinct_id``), so a Stream client sees the same messages, unread counts
and read marks, both ways. Every rule (who may send, message length, unread counts, read state)
is the chat core's; this module only finds the channel and reads it the way the experts surface
shows it.

Chat names users by string ids (``chat`` identities). A member who has none gets one when they
first send or receive a direct message (the accounts core's ``do_ensure_chat_id``).

Members who blocked one another (the social graph's blocks) cannot start or continue a direct
conversation here.

A message is ``read`` when the member it was sent to has read the channel up to it (their chat
read mark is at or after it). Reading a conversation marks it read, for chat too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from townhall.core.accounts.service import CHAT, do_ensure_chat_id, get_user
from townhall.core.accounts.tables import identities
from townhall.core.chat import channels, messages, reads
from townhall.core.chat.channels import Page, StateOptions, distinct_id
from townhall.core.chat.models import Channel, Member, Message
from townhall.core.chat.permissions import Action, Actor
from townhall.core.chat.store import get_members, seen_by
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.experts.members import access_member
from townhall.core.fields import check_text
from townhall.core.social.graph import is_blocked_between
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

CHANNEL_TYPE = "messaging"
HISTORY = 50  # messages a conversation shows, newest first
MAX_CONVERSATIONS = channels.MAX_QUERY_LIMIT  # per page
_SHOWN_TYPES = ("regular", "reply")
_LATEST = 5  # messages looked at for a conversation's last one (deleted ones are skipped)


@dataclass(frozen=True, slots=True)
class DirectMessage:
    member_id: int  # who wrote it
    text: str
    created_at: datetime
    read: bool


@dataclass(frozen=True, slots=True)
class Conversation:
    other_member_id: int
    unread_message_count: int
    last_message: DirectMessage | None


async def chat_ids(conn: Connection, user_ids: list[int]) -> dict[int, str]:
    """The chat identities (string ids) of those users who have one."""
    rows = await conn.execute(select(identities.c.user_id, identities.c.value).where(
        identities.c.kind == CHAT, identities.c.user_id.in_(user_ids)))
    return {r.user_id: r.value for r in rows}


def _cid(a: str, b: str) -> str:
    return f"{CHANNEL_TYPE}:{distinct_id([a, b])}"


def _check_other(me: int, other_id: int) -> None:
    if me == other_id:
        raise Invalid("invalid_request", "Members cannot send messages to themselves.")


def _read_marks(members: list[Member]) -> dict[int, datetime | None]:
    return {m.user_id: m.last_read for m in members}


def _direct(message: Message, me: int, other: int, marks: dict[int, datetime | None]) -> DirectMessage:
    recipient = other if message.user_id == me else me
    seen = marks.get(recipient)
    return DirectMessage(member_id=message.user_id or 0, text=message.text, created_at=message.created_at,
                         read=seen is not None and seen >= message.created_at)


def _shown(found: list[Message]) -> list[Message]:
    return [m for m in found if m.deleted_at is None and m.type in _SHOWN_TYPES]


async def _actor(conn: Connection, user_id: int) -> Actor:
    return Actor(user=await get_user(conn, user_id))


async def conversations(conn: Connection, me: int, *, limit: int = MAX_CONVERSATIONS,
                        offset: int = 0) -> list[Conversation]:
    """The member's conversations, the most recently active first: distinct two-member
    messaging channels they are in (and have not hidden) with at least one message."""
    if not 1 <= limit <= MAX_CONVERSATIONS or offset < 0:
        raise Invalid("invalid_request", f"limit must be from 1 to {MAX_CONVERSATIONS} and offset at least 0.")
    if not await chat_ids(conn, [me]):
        return []
    actor = await _actor(conn, me)
    conditions = {"type": CHANNEL_TYPE, "id": {"$autocomplete": "!members-"}, "member_count": 2, "joined": True,
                  "last_message_at": {"$exists": True}}
    states = await channels.query_channels(conn, actor, conditions, [("last_message_at", -1)], limit=limit,
                                           offset=offset, options=StateOptions(messages=Page(limit=_LATEST),
                                                                               members_limit=2))
    out = []
    for state in states:
        others = [m.user_id for m in state.members if m.user_id != me]
        pair = [state.users.get(m.user_id) for m in state.members]
        if len(others) != 1 or any(u is None for u in pair):
            continue
        if state.channel.id != distinct_id([u.chat_id for u in pair if u is not None]):
            continue  # a two-member channel that is not the pair's conversation
        marks = _read_marks(state.members)
        shown = _shown([v.message for v in state.messages])
        last = _direct(shown[-1], me, others[0], marks) if shown else None
        unread = state.membership.unread_messages if state.membership is not None else 0
        out.append(Conversation(other_member_id=others[0], unread_message_count=unread, last_message=last))
    return out


async def _channel_of(conn: Connection, me: int, other_id: int) -> tuple[Channel, Member | None] | None:
    """The pair's conversation channel and ``me``'s membership, or None when they have none yet."""
    ids = await chat_ids(conn, [me, other_id])
    if len(ids) < 2:
        return None
    try:
        channel, _, member = await channels.access(conn, await _actor(conn, me), _cid(ids[me], ids[other_id]),
                                                   Action.READ_CHANNEL)
    except NotFound:
        return None
    return channel, member


async def conversation(conn: Connection, me: int, other_id: int) -> list[DirectMessage]:
    """The last HISTORY messages between ``me`` and ``other_id``, newest first, each ``read`` as
    it is now (before ``do_mark_conversation_read``)."""
    _check_other(me, other_id)
    await access_member(conn, other_id, viewer_id=me)
    found = await _channel_of(conn, me, other_id)
    if found is None:
        return []
    channel, member = found
    history = await channels.channel_messages(conn, channel, member, Page(limit=HISTORY), seen_by(me))
    marks = _read_marks(await get_members(conn, channel.pk, [me, other_id]))
    return [_direct(m, me, other_id, marks) for m in reversed(_shown(history))]


async def do_mark_conversation_read(uow: UnitOfWork, me: int, other_id: int) -> None:
    """``me`` has read the conversation (chat's read mark and unread count), when anything is unread."""
    found = await _channel_of(uow.conn, me, other_id)
    if found is None:
        return
    channel, member = found
    if member is None:
        return
    latest = channel.last_message_at
    if member.unread_messages == 0 and (latest is None or (member.last_read is not None and
                                                           member.last_read >= latest)):
        return
    await reads.mark_read(uow, await _actor(uow.conn, me), channel, member)


async def do_send(uow: UnitOfWork, me: int, other_id: int, text: str) -> DirectMessage:
    """Send ``text`` from ``me`` to ``other_id`` in their conversation (created on first use) by
    the chat core's own rules."""
    _check_other(me, other_id)
    check_text(text, code="invalid_message", name="message")  # before chat stores it (PostgreSQL refuses NUL)
    await access_member(uow.conn, other_id, viewer_id=me)
    if await is_blocked_between(uow.conn, me, other_id):
        raise Forbidden("blocked", "You cannot send messages to this member.")
    mine = await do_ensure_chat_id(uow, me)
    theirs = await do_ensure_chat_id(uow, other_id)
    actor = await _actor(uow.conn, me)
    assert actor.user is not None
    channel, _ = await channels.get_or_create(uow, actor, CHANNEL_TYPE, None, {}, member_chat_ids=[mine, theirs])
    plan = await messages.check_send(uow.conn, actor, actor.user, channel.cid, messages.MessageInput(text=text))
    view, _, _ = await messages.do_send(uow, plan)
    return DirectMessage(member_id=me, text=view.message.text, created_at=view.message.created_at, read=False)
