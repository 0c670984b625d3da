"""Channels and their members: get-or-create, query, update, membership, hide, truncate, delete."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, or_, select, update

from townhall.core import filters
from townhall.core.accounts.models import User
from townhall.core.accounts.service import (
    access_chat_user,
    chat_user_filter,
    require_chat_users,
)
from townhall.core.accounts.tables import identities
from townhall.core.accounts.tables import users as users_table
from townhall.core.chat import channel_types as types
from townhall.core.chat.events import (
    ChannelDeleted,
    ChannelHidden,
    ChannelTruncated,
    ChannelUpdated,
    ChannelVisible,
    MemberChanged,
)
from townhall.core.chat.models import Channel, ChannelState, ChannelType, Member, Users
from townhall.core.chat.permissions import Action, Actor, allowed, check
from townhall.core.chat.store import (
    channel_context,
    channel_from_row,
    find_channel,
    get_channel,
    get_member,
    get_members,
    member_from_row,
    member_ids,
    message_from_row,
    message_select,
    page_bounds,
    seen_by,
)
from townhall.core.chat.tables import channels, members, messages
from townhall.core.chat.views import load_users, member_users, message_views
from townhall.core.clock import now
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.events import channel_topic
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

CHANNEL_ID_RE = re.compile(r"^[a-zA-Z0-9_\-!@]{1,64}$")
CHANNEL_RESERVED = frozenset(
    {"id", "cid", "type", "created_by", "created_by_id", "created_at", "updated_at", "deleted_at",
     "last_message_at", "member_count", "members", "config", "own_capabilities", "truncated_at",
     "disabled", "frozen", "team", "hidden", "duration", "invites"}
)
MEMBER_ROLES = ("channel_member", "channel_moderator")
MAX_MEMBERS_PER_CALL = 100
MAX_QUERY_LIMIT = 30
MAX_MESSAGES_LIMIT = 300


def check_channel_id(value: Any) -> str:
    if not isinstance(value, str) or not CHANNEL_ID_RE.match(value):
        raise Invalid("invalid_channel_id", "channel id must be 1-64 characters of a-z, 0-9, _, -, ! or @")
    return value


def distinct_id(member_chat_ids: Sequence[str]) -> str:
    digest = hashlib.sha1(",".join(sorted(set(member_chat_ids))).encode()).hexdigest()
    return f"!members-{digest}"


def custom_data(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in CHANNEL_RESERVED}


@dataclass(slots=True)
class Page:
    limit: int
    offset: int = 0
    id_lt: str | None = None
    id_lte: str | None = None
    id_gt: str | None = None
    id_gte: str | None = None


@dataclass(slots=True)
class StateOptions:
    messages: Page = field(default_factory=lambda: Page(limit=25))
    members_limit: int = 100
    members_offset: int = 0


async def access(
    conn: Connection, actor: Actor, cid: str, action: Action
) -> tuple[Channel, ChannelType, Member | None]:
    """Load a channel and the caller's membership, and check the caller may do ``action``."""
    channel, ctype, member = await channel_context(conn, cid, actor.user_id)
    check(action, actor, channel.type, member, channel)
    return channel, ctype, member


async def _insert_members(
    conn: Connection, channel: Channel, users: Sequence[User], *, invited: bool = False,
    roles: Mapping[int, str] | None = None, owner_id: int | None = None,
) -> list[Member]:
    existing = {m.user_id for m in await get_members(conn, channel.pk, [u.id for u in users])}
    stamp = now()
    rows = [
        dict(channel_pk=channel.pk, user_id=u.id,
             channel_role=(roles or {}).get(u.id, "channel_member"), is_owner=u.id == owner_id,
             invited=invited, hidden=False, unread_messages=0, custom={}, last_read=stamp,
             created_at=stamp, updated_at=stamp)
        for u in users if u.id not in existing
    ]
    if rows:
        await conn.execute(insert(members), rows)
        await _refresh_member_count(conn, channel.pk)
    return await get_members(conn, channel.pk, [r["user_id"] for r in rows]) if rows else []


async def _refresh_member_count(conn: Connection, channel_pk: int) -> None:
    count = select(func.count()).select_from(members).where(members.c.channel_pk == channel_pk)
    await conn.execute(
        update(channels).where(channels.c.pk == channel_pk)
        .values(member_count=count.scalar_subquery(), updated_at=now())
    )


async def get_or_create(
    uow: UnitOfWork, actor: Actor, type_name: str, channel_id: str | None, data: Mapping[str, Any],
    *, member_chat_ids: Sequence[str] = (), creator_chat_id: str | None = None,
    invite_chat_ids: Sequence[str] = (), roles: Mapping[str, str] | None = None,
) -> tuple[Channel, bool]:
    """Return the channel, creating it (with its members and invitees) when it does not exist yet.

    The creator is ``creator_chat_id`` (only the app may name someone else) or the acting user."""
    conn = uow.conn
    await types.get_type(conn, type_name)
    if channel_id is None:
        if len(set(member_chat_ids)) < 1:
            raise Invalid("invalid_channel", "a channel without an id needs a members list")
        channel_id = distinct_id(member_chat_ids)
    check_channel_id(channel_id)
    cid = f"{type_name}:{channel_id}"
    channel = await find_channel(conn, cid)
    if channel is not None:
        return channel, False
    creator = actor.user
    if creator_chat_id is not None:
        creator = await access_chat_user(conn, creator_chat_id)
        if not actor.server and actor.user is not None and creator.id != actor.user.id:
            raise Forbidden("not_allowed", "created_by can only be set server-side")
    if creator is None:
        raise Invalid("missing_creator", "either data.created_by or data.created_by_id must be provided "
                                         "when using server side auth")
    check(Action.CREATE_CHANNEL, actor, type_name, None)
    if len(member_chat_ids) + len(invite_chat_ids) > MAX_MEMBERS_PER_CALL:
        raise Invalid("too_many_members", f"at most {MAX_MEMBERS_PER_CALL} members can be added at once")
    everyone = [*member_chat_ids, *invite_chat_ids]
    users = await require_chat_users(conn, everyone) if everyone else {}
    role_ids = _role_ids(users, roles)
    stamp = now()
    # A concurrent creator may win the race: the unique cid makes us fall back to theirs.
    inserted = await conn.execute(
        insert(channels).values(
            type=type_name, id=channel_id, cid=cid, created_by_id=creator.id, custom=custom_data(data),
            frozen=bool(data.get("frozen", False)), disabled=False, member_count=0,
            created_at=stamp, updated_at=stamp,
        ).returning(channels.c.pk)
    )
    pk = inserted.scalar_one()
    channel = await get_channel(conn, cid)
    invitees = set(invite_chat_ids)  # listed in both: an invited member until they accept
    added = await _insert_members(
        conn, channel, [users[c] for c in dict.fromkeys(member_chat_ids) if c not in invitees],
        owner_id=creator.id, roles=role_ids,
    )
    invited = await _insert_members(
        conn, channel, [users[c] for c in dict.fromkeys(invite_chat_ids)], invited=True, roles=role_ids,
    )
    channel = await get_channel(conn, cid)
    for m in added:
        await _emit_member(uow, channel, "added", m, actor)
    for m in invited:
        await _emit_member(uow, channel, "invited", m, actor)
    assert pk == channel.pk
    return channel, True


async def _emit_member(uow: UnitOfWork, channel: Channel, kind: str, member: Member, actor: Actor,
                       notify: Sequence[int] = ()) -> None:
    users = await load_users(uow.conn, Users(), [member.user_id, actor.user_id or member.user_id])
    uow.emit(MemberChanged(topic=channel_topic(channel.cid), channel=channel, kind=kind, member=member,
                           users=users, actor_id=actor.user_id, member_ids=list(notify) or [member.user_id]))


async def _actor_users(conn: Connection, actor: Actor, channel: Channel) -> Users:
    """The users a channel event names: who acted and who created the channel."""
    return await load_users(conn, Users(), [i for i in (actor.user_id, channel.created_by_id) if i])


async def state(
    conn: Connection, actor: Actor, channel: Channel, ctype: ChannelType, member: Member | None,
    options: StateOptions, *, created: bool = False, users: Users | None = None,
) -> ChannelState:
    return (await states(conn, actor, [(channel, ctype, member)], options, created=created, users=users))[0]


async def states(
    conn: Connection, actor: Actor, found: Sequence[tuple[Channel, ChannelType, Member | None]],
    options: StateOptions, *, created: bool = False, users: Users | None = None,
) -> list[ChannelState]:
    """What a reader sees of each channel: members, latest and pinned messages, reads, users.

    A fixed number of queries whatever the number of channels (each kind of row is loaded for
    every channel at once), so querying a page of channels is not one round of queries per channel.
    """
    users = users if users is not None else Users()
    if not found:
        return []
    pks = [channel.pk for channel, _, _ in found]
    mems = await _members_of(conn, pks, options.members_limit, options.members_offset)
    page = options.messages
    seen = seen_by(actor.user_id, server=actor.server)
    if len(found) == 1 and any((page.id_lt, page.id_lte, page.id_gt, page.id_gte)):
        channel, _, member = found[0]
        msgs = {channel.pk: await channel_messages(conn, channel, member, page, seen)}
    else:
        msgs = await _latest_messages(conn, found, page.limit, seen)
    pinned = await _pinned_messages(conn, found, seen)
    all_msgs = [m for group in (*msgs.values(), *pinned.values()) for m in group]
    views, users = await message_views(conn, all_msgs, actor.user_id, users)
    by_id = {v.message.id: v for v in views}
    await load_users(conn, users, [m.user_id for group in mems.values() for m in group]
                     + [c.created_by_id for c, _, _ in found if c.created_by_id is not None])
    out = []
    for channel, ctype, member in found:
        channel_members = mems.get(channel.pk, [])
        out.append(ChannelState(
            channel=channel, channel_type=ctype, members=channel_members, membership=member,
            messages=[by_id[m.id] for m in msgs.get(channel.pk, [])],
            pinned_messages=[by_id[m.id] for m in pinned.get(channel.pk, [])],
            reads=channel_members if ctype.flag("read_events") else [], users=users, created=created,
            hidden=bool(member and member.hidden),
        ))
    return out


def _ranked(stmt: Any, partition: Any, *order: Any) -> Any:
    """``stmt`` with each row's rank (1, 2, ...) within its ``partition`` in ``order``, as a subquery."""
    return stmt.add_columns(func.row_number().over(partition_by=partition, order_by=order).label("rank")).subquery()


async def _members_of(conn: Connection, pks: Sequence[int], limit: int, offset: int) -> dict[int, list[Member]]:
    out: dict[int, list[Member]] = {pk: [] for pk in pks}
    if limit <= 0:
        return out
    ranked = _ranked(select(members).where(members.c.channel_pk.in_(pks)), members.c.channel_pk,
                     members.c.created_at, members.c.user_id)
    rows = await conn.execute(select(ranked).where(ranked.c.rank > offset, ranked.c.rank <= offset + limit)
                              .order_by(ranked.c.channel_pk, ranked.c.rank))
    for row in rows:
        out[row.channel_pk].append(member_from_row(row))
    return out


def _visible(found: Sequence[tuple[Channel, ChannelType, Member | None]]) -> Any:
    """Messages of these channels that their readers may see (after truncates / cleared history)."""
    plain = [channel.pk for channel, _, member in found if visible_since(channel, member) is None]
    clauses = [messages.c.channel_pk.in_(plain)] if plain else []
    clauses += [and_(messages.c.channel_pk == channel.pk, messages.c.created_at > since)
                for channel, _, member in found if (since := visible_since(channel, member)) is not None]
    return or_(*clauses)


async def _latest_messages(
    conn: Connection, found: Sequence[tuple[Channel, ChannelType, Member | None]], limit: int, seen: Any
) -> dict[int, list[Any]]:
    """The newest ``limit`` messages shown in each channel (of those ``seen`` by the reader), oldest first."""
    out: dict[int, list[Any]] = {channel.pk: [] for channel, _, _ in found}
    if limit <= 0:
        return out
    stmt = message_select().where(
        _visible(found), seen, or_(messages.c.parent_id.is_(None), messages.c.show_in_channel.is_(True)))
    ranked = _ranked(stmt, messages.c.channel_pk, messages.c.created_at.desc(), messages.c.pk.desc())
    rows = await conn.execute(select(ranked).where(ranked.c.rank <= min(limit, MAX_MESSAGES_LIMIT))
                              .order_by(ranked.c.channel_pk, ranked.c.rank.desc()))
    for row in rows:
        out[row.channel_pk].append(message_from_row(row))
    return out


def visible_since(channel: Channel, member: Member | None) -> Any:
    """Messages before a truncate (or the member's cleared history) are not shown."""
    bounds = [t for t in (channel.truncated_at, member.clear_history_at if member else None) if t]
    return max(bounds) if bounds else None


async def channel_messages(
    conn: Connection, channel: Channel, member: Member | None, page: Page, seen: Any
) -> list[Any]:
    if page.limit <= 0:
        return []
    limit = min(page.limit, MAX_MESSAGES_LIMIT)
    stmt = message_select().where(
        messages.c.channel_pk == channel.pk, seen,
        or_(messages.c.parent_id.is_(None), messages.c.show_in_channel.is_(True)),
    )
    since = visible_since(channel, member)
    if since is not None:
        stmt = stmt.where(messages.c.created_at > since)
    clauses, ascending = await page_bounds(conn, page)
    stmt = stmt.where(*clauses)
    if ascending:
        stmt = stmt.order_by(messages.c.created_at, messages.c.pk).limit(limit)
        return [message_from_row(r) for r in await conn.execute(stmt)]
    stmt = stmt.order_by(messages.c.created_at.desc(), messages.c.pk.desc()).limit(limit)
    return list(reversed([message_from_row(r) for r in await conn.execute(stmt)]))


PINNED_LIMIT = 10


async def _pinned_messages(
    conn: Connection, found: Sequence[tuple[Channel, ChannelType, Member | None]], seen: Any
) -> dict[int, list[Any]]:
    """Each channel's pinned messages (of those ``seen`` by the reader), newest pin first."""
    out: dict[int, list[Any]] = {channel.pk: [] for channel, _, _ in found}
    stmt = message_select().where(
        _visible(found), seen, messages.c.pinned.is_(True), messages.c.deleted_at.is_(None),
        or_(messages.c.pin_expires.is_(None), messages.c.pin_expires > now()),
    )
    ranked = _ranked(stmt, messages.c.channel_pk, messages.c.pinned_at.desc(), messages.c.pk.desc())
    rows = await conn.execute(select(ranked).where(ranked.c.rank <= PINNED_LIMIT)
                              .order_by(ranked.c.channel_pk, ranked.c.rank))
    for row in rows:
        out[row.channel_pk].append(message_from_row(row))
    return out


# --- querying channels ------------------------------------------------------------------------

OPEN_TYPES = ("livestream", "gaming")  # readable by every user (permissions.py)


def channel_filter_fields(actor: Actor) -> dict[str, Any]:
    me = actor.user_id

    def members_filter(op: str, value: Any) -> Any:
        ids = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in ids):
            raise Invalid("invalid_filter", "members takes user ids")
        has = (
            select(members.c.channel_pk)
            .join(identities, and_(identities.c.user_id == members.c.user_id, identities.c.kind == "chat"))
            .where(identities.c.value.in_(ids))
        )
        if op in ("$in", "$eq"):
            if op == "$eq" and isinstance(value, list):
                # exact member set: all of them, and nobody else
                all_of = has.group_by(members.c.channel_pk).having(func.count() == len(set(ids)))
                return and_(channels.c.pk.in_(all_of), channels.c.member_count == len(set(ids)))
            return channels.c.pk.in_(has)
        if op == "$nin":
            return channels.c.pk.not_in(has)
        raise Invalid("invalid_filter", f"members does not support {op}")

    def membership_flag(column: Any) -> Any:
        def clause(op: str, value: Any) -> Any:
            if op != "$eq" or not isinstance(value, bool):
                raise Invalid("invalid_filter", "this field takes true or false")
            mine = select(members.c.channel_pk).where(members.c.user_id == me, column)
            return channels.c.pk.in_(mine) if value else channels.c.pk.not_in(mine)
        return clause

    def joined(op: str, value: Any) -> Any:
        if op != "$eq" or not isinstance(value, bool):
            raise Invalid("invalid_filter", "joined takes true or false")
        mine = select(members.c.channel_pk).where(members.c.user_id == me)
        return channels.c.pk.in_(mine) if value else channels.c.pk.not_in(mine)

    def muted(op: str, value: Any) -> Any:  # channel mutes arrive with moderation; nothing is muted yet
        return literal(not value)

    return {
        "cid": channels.c.cid, "type": channels.c.type, "id": channels.c.id,
        "members": members_filter, "created_by_id": chat_user_filter(channels.c.created_by_id),
        "last_message_at": channels.c.last_message_at, "created_at": channels.c.created_at,
        "updated_at": channels.c.updated_at, "frozen": channels.c.frozen,
        "disabled": channels.c.disabled, "member_count": channels.c.member_count,
        "hidden": membership_flag(members.c.hidden.is_(True)), "joined": joined, "muted": muted,
        # per-member flags set with a member partial update ({"set": {"pinned": true}})
        "pinned": membership_flag(members.c.custom["pinned"].as_boolean().is_(True)),
        "archived": membership_flag(members.c.custom["archived"].as_boolean().is_(True)),
        "last_updated": func.coalesce(channels.c.last_message_at, channels.c.created_at),
        "invite": membership_flag(and_(members.c.invited.is_(True), members.c.invite_accepted_at.is_(None),
                                       members.c.invite_rejected_at.is_(None))),
    }


def readable_by(actor: Actor) -> Any:
    """SQL for "a channel this client-side caller may read" (see permissions: members, the
    creator, admins; anyone for the open types)."""
    if actor.user is not None and actor.user.role == "admin":
        return literal(True)
    mine = select(members.c.channel_pk).where(members.c.user_id == actor.user_id)
    return or_(channels.c.type.in_(OPEN_TYPES), channels.c.pk.in_(mine), channels.c.created_by_id == actor.user_id)


def _mentions_field(conditions: Mapping[str, Any], name: str) -> bool:
    for key, value in conditions.items():
        if key == name:
            return True
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            if any(isinstance(c, Mapping) and _mentions_field(c, name) for c in value):
                return True
    return False


async def query_channels(
    conn: Connection, actor: Actor, conditions: Mapping[str, Any], sort: Sequence[tuple[str, int]],
    *, limit: int, offset: int, options: StateOptions,
) -> list[ChannelState]:
    if not 0 <= limit <= MAX_QUERY_LIMIT:
        raise Invalid("invalid_limit", f"limit must be between 0 and {MAX_QUERY_LIMIT}")
    fields = channel_filter_fields(actor)
    stmt = select(channels).where(channels.c.deleted_at.is_(None))
    stmt = stmt.where(filters.compile_filter(conditions, fields, custom=channels.c.custom))
    me = actor.user_id
    if not actor.server or me is not None:
        if me is not None and not _mentions_field(conditions, "hidden"):
            hidden = select(members.c.channel_pk).where(members.c.user_id == me, members.c.hidden.is_(True))
            stmt = stmt.where(channels.c.pk.not_in(hidden))
    if not actor.server:
        stmt = stmt.where(readable_by(actor))
    order = filters.compile_sort(sort or [("last_updated", -1)], fields, custom=channels.c.custom)
    stmt = stmt.order_by(*order, channels.c.pk.desc()).limit(limit).offset(offset)
    found = [channel_from_row(r) for r in await conn.execute(stmt)]
    if not found:
        return []
    ctypes = {name: await types.get_type(conn, name) for name in {c.type for c in found}}
    mine: dict[int, Member] = {}
    if me is not None:
        rows = await conn.execute(select(members).where(
            members.c.user_id == me, members.c.channel_pk.in_([c.pk for c in found])))
        mine = {row.channel_pk: member_from_row(row) for row in rows}
    return await states(conn, actor, [(c, ctypes[c.type], mine.get(c.pk)) for c in found], options)


# --- updating ---------------------------------------------------------------------------------

async def update_channel(
    uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None, data: Mapping[str, Any],
    *, partial_unset: Sequence[str] | None = None,
) -> Channel:
    """Full update (``partial_unset is None``: custom data replaced) or partial set/unset."""
    check(Action.UPDATE_CHANNEL, actor, channel.type, member, channel)
    if "frozen" in data:
        if not isinstance(data["frozen"], bool):
            raise Invalid("invalid_field", "frozen must be a boolean")
        check(Action.FREEZE_CHANNEL, actor, channel.type, member, channel)
    if partial_unset is None:
        custom = custom_data(data)
    else:
        custom = {**channel.custom, **custom_data(data)}
        for key in partial_unset:
            if key in CHANNEL_RESERVED and key != "frozen":
                raise Invalid("invalid_field", f"cannot unset {key}")
            custom.pop(key, None)
    values: dict[str, Any] = {"custom": custom, "updated_at": now()}
    if "frozen" in data:
        values["frozen"] = data["frozen"]
    elif partial_unset and "frozen" in partial_unset:
        values["frozen"] = False
    await uow.conn.execute(update(channels).where(channels.c.pk == channel.pk).values(**values))
    fresh = await get_channel(uow.conn, channel.cid)
    uow.emit(ChannelUpdated(
        topic=channel_topic(fresh.cid), channel=fresh, actor_id=actor.user_id,
        member_ids=await member_ids(uow.conn, fresh.pk),
        users=await _actor_users(uow.conn, actor, channel),
    ))
    return fresh


async def add_members(
    uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None, chat_ids: Sequence[str],
    *, invited: bool = False, roles: Mapping[str, str] | None = None,
) -> list[Member]:
    me = actor.user.chat_id if actor.user else None
    only_self = list(dict.fromkeys(chat_ids)) == [me] and not invited
    if not (only_self and allowed(Action.JOIN_CHANNEL, actor, channel.type, member, channel)):
        check(Action.UPDATE_MEMBERS, actor, channel.type, member, channel)
    if not chat_ids:
        raise Invalid("invalid_members", "no members given")
    if len(chat_ids) > MAX_MEMBERS_PER_CALL:
        raise Invalid("too_many_members", f"at most {MAX_MEMBERS_PER_CALL} members can be added at once")
    users = await require_chat_users(uow.conn, chat_ids)
    role_ids = _role_ids(users, roles)
    added = await _insert_members(uow.conn, channel, [users[c] for c in dict.fromkeys(chat_ids)],
                                  invited=invited, roles=role_ids)
    fresh = await get_channel(uow.conn, channel.cid)
    for m in added:
        await _emit_member(uow, fresh, "invited" if invited else "added", m, actor)
    return added


def _role_ids(users: Mapping[str, User], roles: Mapping[str, str] | None) -> dict[int, str]:
    out = {}
    for chat_id, role in (roles or {}).items():
        if role not in MEMBER_ROLES:
            raise Invalid("invalid_role", f'channel role "{role}" is not one of {", ".join(MEMBER_ROLES)}')
        if chat_id in users:
            out[users[chat_id].id] = role
    return out


async def remove_members(
    uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None, chat_ids: Sequence[str]
) -> None:
    me = actor.user.chat_id if actor.user else None
    only_self = list(dict.fromkeys(chat_ids)) == [me]
    if not (only_self and allowed(Action.LEAVE_CHANNEL, actor, channel.type, member, channel)):
        check(Action.UPDATE_MEMBERS, actor, channel.type, member, channel)
    users = await require_chat_users(uow.conn, chat_ids)
    gone = await get_members(uow.conn, channel.pk, [u.id for u in users.values()])
    if gone:
        await uow.conn.execute(
            delete(members).where(members.c.channel_pk == channel.pk,
                                  members.c.user_id.in_([m.user_id for m in gone]))
        )
        await _refresh_member_count(uow.conn, channel.pk)
    fresh = await get_channel(uow.conn, channel.cid)
    for m in gone:
        await _emit_member(uow, fresh, "removed", m, actor)


async def set_member_roles(
    uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None, roles: Mapping[str, str],
    *, add_missing: bool = False,
) -> list[Member]:
    """Change members' channel roles; with ``add_missing`` users not yet members join with it."""
    check(Action.UPDATE_MEMBERS, actor, channel.type, member, channel)
    users = await require_chat_users(uow.conn, list(roles))
    role_ids = _role_ids(users, roles)
    changed = []
    if add_missing:
        present = {m.user_id for m in await get_members(uow.conn, channel.pk, role_ids)}
        missing = [c for c in roles if users[c].id not in present]
        if missing:
            await add_members(uow, actor, channel, member, missing, roles={c: roles[c] for c in missing})
    for chat_id in roles:
        target = await get_member(uow.conn, channel.pk, users[chat_id].id)
        if target is None:
            raise NotFound("member_not_found", f'user "{chat_id}" is not a member of {channel.cid}')
        role = role_ids[target.user_id]
        await uow.conn.execute(
            update(members).where(members.c.channel_pk == channel.pk, members.c.user_id == target.user_id)
            .values(channel_role=role, updated_at=now())
        )
        changed.append(await get_member(uow.conn, channel.pk, target.user_id))
    for m in changed:
        assert m is not None
        await _emit_member(uow, channel, "updated", m, actor)
    return [m for m in changed if m is not None]


async def answer_invite(
    uow: UnitOfWork, actor: Actor, channel: Channel, *, accept: bool
) -> Member:
    member = await get_member(uow.conn, channel.pk, actor.user_id)
    if member is None or not member.invited:
        raise Invalid("no_invite", f"there is no pending invite to {channel.cid} for this user")
    stamp = now()
    values = {"invite_accepted_at": stamp} if accept else {"invite_rejected_at": stamp}
    await uow.conn.execute(
        update(members).where(members.c.channel_pk == channel.pk, members.c.user_id == member.user_id)
        .values(**values, invited=True, updated_at=stamp)
    )
    fresh = await get_member(uow.conn, channel.pk, member.user_id)
    assert fresh is not None
    await _emit_member(uow, channel, "invite_accepted" if accept else "invite_rejected", fresh, actor,
                 notify=await member_ids(uow.conn, channel.pk))
    return fresh


async def update_member_partial(
    uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None, target_chat_id: str,
    set_: Mapping[str, Any], unset: Sequence[str],
) -> Member:
    target_user = await access_chat_user(uow.conn, target_chat_id)
    if target_user.id != actor.user_id:
        check(Action.UPDATE_MEMBERS, actor, channel.type, member, channel)
    target = await get_member(uow.conn, channel.pk, target_user.id)
    if target is None:
        raise NotFound("member_not_found", f'user "{target_chat_id}" is not a member of {channel.cid}')
    reserved = {"user_id", "user", "channel_role", "role", "created_at", "updated_at", "banned",
                "invited", "is_moderator", "shadow_banned"}
    bad = [k for k in [*set_, *unset] if k in reserved]
    if bad:
        raise Invalid("read_only_field", f"cannot change member field(s): {', '.join(bad)}")
    custom = {**target.custom, **set_}
    for key in unset:
        custom.pop(key, None)
    await uow.conn.execute(
        update(members).where(members.c.channel_pk == channel.pk, members.c.user_id == target.user_id)
        .values(custom=custom, updated_at=now())
    )
    fresh = await get_member(uow.conn, channel.pk, target.user_id)
    assert fresh is not None
    await _emit_member(uow, channel, "updated", fresh, actor)
    return fresh


async def query_members(
    conn: Connection, actor: Actor, channel: Channel, conditions: Mapping[str, Any],
    sort: Sequence[tuple[str, int]], *, limit: int, offset: int,
) -> tuple[list[Member], Users]:
    chat_id = identities.c.value
    fields: dict[str, Any] = {
        "id": chat_id, "user_id": chat_id, "name": users_table.c.name,
        "created_at": members.c.created_at, "updated_at": members.c.updated_at,
        "channel_role": members.c.channel_role, "invite": members.c.invited,
        "joined": members.c.invite_accepted_at,
        "is_moderator": members.c.channel_role == "channel_moderator",
        "banned": users_table.c.banned, "last_active": users_table.c.last_active,
    }
    stmt = (
        select(members)
        .join(users_table, users_table.c.id == members.c.user_id)
        .outerjoin(identities, and_(identities.c.user_id == members.c.user_id, identities.c.kind == "chat"))
        .where(members.c.channel_pk == channel.pk)
        .where(filters.compile_filter(conditions, fields, custom=members.c.custom))
        .order_by(*filters.compile_sort(sort or [("created_at", 1)], fields, custom=members.c.custom),
                  members.c.user_id)
        .limit(limit).offset(offset)
    )
    found = [member_from_row(r) for r in await conn.execute(stmt)]
    return found, await member_users(conn, Users(), found)


async def hide(uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None,
               *, clear_history: bool) -> None:
    check(Action.HIDE_CHANNEL, actor, channel.type, member, channel)
    if member is None:
        raise NotFound("member_not_found", "only members can hide a channel")
    values: dict[str, Any] = {"hidden": True, "updated_at": now()}
    if clear_history:
        values["clear_history_at"] = now()
    await uow.conn.execute(
        update(members).where(members.c.channel_pk == channel.pk, members.c.user_id == member.user_id)
        .values(**values)
    )
    uow.emit(ChannelHidden(
        topic=channel_topic(channel.cid), channel=channel, actor_id=actor.user_id,
        member_ids=[member.user_id], clear_history=clear_history,
        users=await _actor_users(uow.conn, actor, channel),
    ))


async def show(uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None) -> None:
    check(Action.HIDE_CHANNEL, actor, channel.type, member, channel)
    if member is None:
        raise NotFound("member_not_found", "only members can show a channel")
    await uow.conn.execute(
        update(members).where(members.c.channel_pk == channel.pk, members.c.user_id == member.user_id)
        .values(hidden=False, updated_at=now())
    )
    uow.emit(ChannelVisible(
        topic=channel_topic(channel.cid), channel=channel, actor_id=actor.user_id,
        member_ids=[member.user_id],
        users=await _actor_users(uow.conn, actor, channel),
    ))


async def truncate(uow: UnitOfWork, actor: Actor, channel: Channel, member: Member | None,
                   *, hard: bool, truncated_at: Any = None) -> Channel:
    check(Action.TRUNCATE_CHANNEL, actor, channel.type, member, channel)
    stamp = truncated_at or now()
    if hard:
        await uow.conn.execute(
            delete(messages).where(messages.c.channel_pk == channel.pk, messages.c.created_at <= stamp)
        )
    await uow.conn.execute(
        update(channels).where(channels.c.pk == channel.pk)
        .values(truncated_at=stamp, updated_at=now())
    )
    await uow.conn.execute(
        update(members).where(members.c.channel_pk == channel.pk).values(unread_messages=0, last_read=stamp)
    )
    fresh = await get_channel(uow.conn, channel.cid)
    uow.emit(ChannelTruncated(
        topic=channel_topic(fresh.cid), channel=fresh, actor_id=actor.user_id,
        member_ids=await member_ids(uow.conn, fresh.pk),
        users=await _actor_users(uow.conn, actor, channel),
    ))
    return fresh


async def delete_channels(uow: UnitOfWork, actor: Actor, cids: Sequence[str], *, hard: bool) -> list[Channel]:
    done = []
    for cid in cids:
        channel = await get_channel(uow.conn, cid)
        member = await get_member(uow.conn, channel.pk, actor.user_id)
        check(Action.DELETE_CHANNEL, actor, channel.type, member, channel)
        notify = await member_ids(uow.conn, channel.pk)
        if hard:
            await uow.conn.execute(delete(channels).where(channels.c.pk == channel.pk))
        else:
            # A soft-deleted channel frees its cid: a new channel with the same id starts empty.
            stamp = now()
            await uow.conn.execute(
                update(channels).where(channels.c.pk == channel.pk)
                .values(deleted_at=stamp, updated_at=stamp, cid=f"{channel.cid}#deleted-{channel.pk}")
            )
        deleted = channel.model_copy(update={"deleted_at": now()})
        uow.emit(ChannelDeleted(
            topic=channel_topic(channel.cid), channel=deleted, actor_id=actor.user_id, member_ids=notify,
            users=await _actor_users(uow.conn, actor, channel),
        ))
        done.append(deleted)
    return done
