"""Read state: last_read and unread counts per member, kept in the message's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update

from townhall.core.chat.events import MarkedUnread, MessageRead
from townhall.core.chat.models import Channel, Member, Users
from townhall.core.chat.permissions import Action, Actor, check
from townhall.core.chat.store import get_member, get_message, seen_by
from townhall.core.chat.tables import channels, members, messages, thread_reads
from townhall.core.chat.views import load_users
from townhall.core.clock import now
from townhall.core.errors import Invalid
from townhall.core.events import channel_topic
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection


async def mark_read(
    uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None, message_id: str | None = None,
) -> Member | None:
    """Mark the channel read (up to ``message_id`` when given). Readers who are not members
    (the creator, livestream watchers) have no read state: nothing changes for them."""
    check(Action.MARK_READ, actor, channel.type, member, channel)
    if member is None:
        return None
    conn = uow.conn
    stamp = now()
    last_id = message_id
    if message_id is not None:
        message = await get_message(conn, message_id)
        if message.channel_pk != channel.pk:
            raise Invalid("invalid_message", "the message belongs to another channel")
        later = await _count_after(conn, channel, message.created_at, message.pk, member.user_id)
        values = {"last_read": message.created_at, "unread_messages": later}
    else:
        last_id = (await conn.execute(
            select(messages.c.id).where(messages.c.channel_pk == channel.pk, messages.c.parent_id.is_(None))
            .order_by(messages.c.created_at.desc(), messages.c.pk.desc()).limit(1)
        )).scalar()
        values = {"last_read": stamp, "unread_messages": 0}
    await conn.execute(
        update(members).where(members.c.channel_pk == channel.pk, members.c.user_id == member.user_id)
        .values(**values, last_read_message_id=last_id, updated_at=stamp)
    )
    fresh = await get_member(conn, channel.pk, member.user_id)
    assert fresh is not None
    users = await load_users(conn, Users(), [member.user_id])
    uow.emit(MessageRead(topic=channel_topic(channel.cid), channel=channel, users=users, actor_id=member.user_id,
                         member_ids=[member.user_id], last_read_message_id=last_id))
    return fresh


async def _count_after(conn: Connection, channel: Channel, at: object, pk: int, reader_id: int) -> int:
    """Messages after (at, pk) that count as unread for ``reader_id``."""
    return int((await conn.execute(
        select(func.count()).select_from(messages).where(
            messages.c.channel_pk == channel.pk,
            or_(messages.c.created_at > at, and_(messages.c.created_at == at, messages.c.pk > pk)),
            or_(messages.c.parent_id.is_(None), messages.c.show_in_channel.is_(True)),
            messages.c.silent.is_(False), messages.c.type != "system", messages.c.deleted_at.is_(None),
            seen_by(reader_id),
        )
    )).scalar_one())


async def mark_unread(
    uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None, message_id: str
) -> Member | None:
    """Unread from ``message_id`` on: it and everything after it count as unread."""
    check(Action.MARK_READ, actor, channel.type, member, channel)
    if member is None:
        return None
    conn = uow.conn
    message = await get_message(conn, message_id)
    if message.channel_pk != channel.pk:
        raise Invalid("invalid_message", "the message belongs to another channel")
    previous = (await conn.execute(
        select(messages.c.id, messages.c.created_at).where(
            messages.c.channel_pk == channel.pk, messages.c.parent_id.is_(None),
            or_(messages.c.created_at < message.created_at,
                and_(messages.c.created_at == message.created_at, messages.c.pk < message.pk)))
        .order_by(messages.c.created_at.desc(), messages.c.pk.desc()).limit(1)
    )).first()
    unread = await _count_after(conn, channel, message.created_at, message.pk, member.user_id) + 1
    await conn.execute(
        update(members).where(members.c.channel_pk == channel.pk, members.c.user_id == member.user_id)
        .values(unread_messages=unread, last_read=previous.created_at if previous else channel.created_at,
                last_read_message_id=previous.id if previous else None, updated_at=now())
    )
    fresh = await get_member(conn, channel.pk, member.user_id)
    assert fresh is not None
    users = await load_users(conn, Users(), [member.user_id])
    uow.emit(MarkedUnread(topic=channel_topic(channel.cid), channel=channel, member=fresh, users=users,
                          first_unread_message_id=message.id, actor_id=member.user_id,
                          member_ids=[member.user_id]))
    return fresh


async def mark_all_read(uow: UnitOfWork, user_id: int) -> None:
    stamp = now()
    await uow.conn.execute(
        update(members).where(members.c.user_id == user_id, members.c.unread_messages > 0)
        .values(unread_messages=0, last_read=stamp, updated_at=stamp)
    )


@dataclass(slots=True)
class ChannelUnread:
    cid: str
    type: str
    unread: int
    last_read: object


async def unread_by_channel(conn: Connection, user_ids: Sequence[int]) -> dict[int, list[ChannelUnread]]:
    out: dict[int, list[ChannelUnread]] = {u: [] for u in user_ids}
    if not user_ids:
        return out
    rows = await conn.execute(
        select(members.c.user_id, channels.c.cid, channels.c.type, members.c.unread_messages,
               members.c.last_read)
        .join(channels, channels.c.pk == members.c.channel_pk)
        .where(members.c.user_id.in_(list(user_ids)), channels.c.deleted_at.is_(None))
    )
    for row in rows:
        out[row.user_id].append(ChannelUnread(row.cid, row.type, row.unread_messages, row.last_read))
    return out


async def mark_thread_read(uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None,
                           parent_id: str) -> None:
    check(Action.MARK_READ, actor, channel.type, member, channel)
    parent = await get_message(uow.conn, parent_id)
    if parent.channel_pk != channel.pk:
        raise Invalid("invalid_message", "the thread belongs to another channel")
    if actor.user_id is None:
        return
    await uow.conn.execute(
        update(thread_reads).where(thread_reads.c.parent_pk == parent.pk, thread_reads.c.user_id == actor.user_id)
        .values(unread_replies=0, last_read=now())
    )


@dataclass(slots=True)
class ThreadUnread:
    parent_id: str
    unread: int
    last_read: object
    last_read_message_id: str | None


async def unread_threads(conn: Connection, user_ids: Sequence[int]) -> dict[int, list[ThreadUnread]]:
    out: dict[int, list[ThreadUnread]] = {u: [] for u in user_ids}
    if not user_ids:
        return out
    rows = await conn.execute(
        select(thread_reads.c.user_id, messages.c.id, thread_reads.c.unread_replies, thread_reads.c.last_read,
               thread_reads.c.last_read_message_id)
        .join(messages, messages.c.pk == thread_reads.c.parent_pk)
        .where(thread_reads.c.user_id.in_(list(user_ids)), thread_reads.c.unread_replies > 0)
    )
    for row in rows:
        out[row.user_id].append(ThreadUnread(row.id, row.unread_replies, row.last_read, row.last_read_message_id))
    return out
