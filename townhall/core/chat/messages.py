"""Messages: send (idempotent by id), read, update, delete/undelete, threads, pins."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, or_, select, update

from townhall.core import filters
from townhall.core.accounts.models import User
from townhall.core.accounts.service import chat_user_filter, require_chat_users
from townhall.core.chat import history
from townhall.core.chat.channels import Page, readable_by, visible_since
from townhall.core.chat.contexts import ChannelContexts
from townhall.core.chat.events import (
    MessageDeleted,
    MessageNew,
    MessageUndeleted,
    MessageUpdated,
)
from townhall.core.chat.models import (
    Channel,
    ChannelType,
    Member,
    Message,
    MessageView,
    Users,
)
from townhall.core.chat.permissions import Action, Actor, check
from townhall.core.chat.store import (
    channel_context,
    find_message,
    get_message,
    get_messages,
    member_ids,
    message_from_row,
    message_select,
    page_bounds,
    seen_by,
    sees,
)
from townhall.core.chat.tables import channels, members, messages, thread_reads
from townhall.core.chat.views import load_users, message_views, referenced_user_ids
from townhall.core.clock import new_id, now
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.events import channel_topic
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection, prepared
from townhall.db.sql import insert_ignoring_conflicts

MESSAGE_ID_RE = re.compile(r"^[^\s,%*]{1,255}$")
MESSAGE_RESERVED = frozenset(
    {"id", "text", "html", "type", "cid", "user", "user_id", "attachments", "latest_reactions",
     "own_reactions", "reaction_counts", "reaction_scores", "reaction_groups", "reply_count",
     "parent_id", "show_in_channel", "mentioned_users", "quoted_message_id", "quoted_message",
     "pinned", "pinned_at", "pinned_by", "pin_expires", "silent", "shadowed", "created_at",
     "updated_at", "deleted_at", "thread_participants", "channel", "i18n", "command", "args",
     "deleted_reply_count", "message_text_updated_at", "poll_id", "restricted_visibility",
     "pinned_by_id", "skip_push", "skip_enrich_url", "deleted_for_me", "member", "status"}
)
SENDABLE_TYPES = ("regular", "system")
MAX_ATTACHMENTS = 30
MAX_CUSTOM_BYTES = 5 * 1024


@dataclass(slots=True)
class MessageInput:
    """A message as a surface describes it."""

    id: str | None = None
    text: str = ""
    type: str = "regular"
    parent_id: str | None = None
    show_in_channel: bool = False
    quoted_message_id: str | None = None
    attachments: list[Any] = field(default_factory=list)
    mentioned_chat_ids: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False
    pin_expires: datetime | None = None
    silent: bool = False
    html: str = ""
    restricted_visibility: list[str] | None = None  # chat ids: only they (and the sender) see it


def _check_restricted_visibility(value: Any) -> list[str] | None:
    """A list of user ids; an empty list restricts nothing."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise Invalid("invalid_field", "restricted_visibility must list user ids", field="restricted_visibility")
    return value or None


def _check_may_restrict(actor: Actor) -> None:
    """Only server-side calls set or change who sees a message (Stream's permission
    CreateRestrictedVisibilityMessage, which no default role holds)."""
    if not actor.server:
        raise Forbidden("not_allowed", "restricted_visibility can only be set server-side")


async def _restricted_ids(conn: Connection, chat_ids: list[str] | None, users: Users | None = None) -> list[int] | None:
    if not chat_ids:
        return None
    found = await require_chat_users(conn, chat_ids)
    if users is not None:
        users.add(*found.values())
    return list(dict.fromkeys(found[i].id for i in chat_ids))


def _validate(msg: MessageInput, ctype: ChannelType, actor: Actor) -> None:
    if msg.id is not None and (not isinstance(msg.id, str) or not MESSAGE_ID_RE.match(msg.id)):
        raise Invalid("invalid_message_id", "message.id must be 1-255 characters without spaces, ',', '%' or '*'")
    if not isinstance(msg.text, str):
        raise Invalid("invalid_field", "message.text must be a string", field="text")
    if len(msg.text) > ctype.max_message_length:
        raise Invalid("message_too_long",
                      f"message.text is longer than the {ctype.max_message_length} characters allowed")
    if not msg.text.strip() and not msg.attachments and msg.type != "system":
        raise Invalid("empty_message", "message.text or message.attachments is required")
    if msg.type not in SENDABLE_TYPES:
        raise Invalid("invalid_message_type", f'message type "{msg.type}" cannot be sent')
    if msg.type == "system" and not actor.server:
        raise Forbidden("not_allowed", "only server-side calls may send system messages")
    if not isinstance(msg.attachments, list) or len(msg.attachments) > MAX_ATTACHMENTS:
        raise Invalid("invalid_attachments", f"attachments must be a list of at most {MAX_ATTACHMENTS}")
    if not all(isinstance(a, dict) for a in msg.attachments):
        raise Invalid("invalid_attachments", "each attachment must be an object")
    if msg.parent_id and not ctype.flag("replies"):
        raise Invalid("replies_disabled", f'replies are disabled for channel type "{ctype.name}"')
    if msg.quoted_message_id and not ctype.flag("quotes"):
        raise Invalid("quotes_disabled", f'quotes are disabled for channel type "{ctype.name}"')
    msg.restricted_visibility = _check_restricted_visibility(msg.restricted_visibility)
    if msg.restricted_visibility:
        _check_may_restrict(actor)


@dataclass(slots=True)
class SendPlan:
    """A checked send: everything ``do_send`` needs, read before the write transaction."""

    actor: Actor
    sender: User
    channel: Channel
    ctype: ChannelType
    msg: MessageInput
    member_ids: list[int]
    users: Users
    parent: Message | None = None
    quoted: Message | None = None
    mentioned_ids: list[int] = field(default_factory=list)
    restricted_ids: list[int] | None = None


async def check_send(
    conn: Connection, actor: Actor, sender: User, cid: str, msg: MessageInput,
    *, contexts: ChannelContexts | None = None,
) -> SendPlan:
    """Check that ``sender`` may send ``msg`` to channel ``cid`` and gather what the write needs.

    May run on a read snapshot before the write transaction; ``do_send`` copes with what may
    change in between. A message id already stored (a retried send) is found by ``do_send``'s
    insert, so the common case costs no lookup here. ``contexts``: the process's cache of
    channels and memberships, if it has one.
    """
    if contexts is not None:
        channel, ctype, member, ids = await contexts.get(conn, cid, actor.user_id)
        ids = list(ids)
    else:
        channel, ctype, member = await channel_context(conn, cid, actor.user_id)
        ids = await member_ids(conn, channel.pk)
    check(Action.SEND_MESSAGE, actor, channel.type, member, channel)
    if channel.frozen and not actor.server:
        raise Forbidden("channel_frozen", f"channel {channel.cid} is frozen")
    _validate(msg, ctype, actor)
    users = Users()
    users.add(sender)
    plan = SendPlan(actor=actor, sender=sender, channel=channel, ctype=ctype, msg=msg, member_ids=ids, users=users)
    if msg.parent_id:
        parent = await get_message(conn, msg.parent_id)
        if parent.channel_pk != channel.pk:
            raise Invalid("invalid_parent", "the parent message belongs to another channel")
        if parent.parent_id is not None:
            raise Invalid("invalid_parent", "replies to replies are not supported; reply to the thread parent")
        plan.parent = parent
    if msg.quoted_message_id:
        quoted = await find_message(conn, msg.quoted_message_id)
        if quoted is None or quoted.channel_pk != channel.pk:
            raise Invalid("invalid_quote", f"quoted message {msg.quoted_message_id} does not exist in this channel")
        plan.quoted = quoted
        await load_users(conn, users, referenced_user_ids(quoted))
    if msg.mentioned_chat_ids:
        mentioned = await require_chat_users(conn, msg.mentioned_chat_ids)
        users.add(*mentioned.values())
        plan.mentioned_ids = [u.id for u in mentioned.values()]
    plan.restricted_ids = await _restricted_ids(conn, msg.restricted_visibility, users)
    return plan


def _check_retry(existing: Message, plan: SendPlan) -> None:
    if existing.channel_pk != plan.channel.pk or existing.user_id != plan.sender.id:
        raise Conflict("duplicate_message_id", f"a message with id {existing.id} already exists")


async def do_send(uow: UnitOfWork, plan: SendPlan) -> tuple[MessageView, Users, bool]:
    """Store a checked message. A retried send whose id is already stored returns that message.

    Returns the view, the users it references, and whether it was newly created. The unread
    counts of the other members change in this same transaction.
    """
    conn = uow.conn
    msg, channel, sender, parent = plan.msg, plan.channel, plan.sender, plan.parent
    stamp = now()
    values: dict[str, Any] = dict(
        id=msg.id or new_id(), channel_pk=channel.pk, user_id=sender.id,
        type="reply" if parent is not None and msg.type == "regular" else msg.type, text=msg.text,
        html=msg.html, parent_id=msg.parent_id, show_in_channel=bool(parent and msg.show_in_channel),
        quoted_message_id=msg.quoted_message_id, attachments=msg.attachments,
        mentioned_user_ids=plan.mentioned_ids, custom=msg.custom, reaction_counts={},
        reaction_scores={}, reply_count=0, thread_participant_ids=[], last_reply_at=None,
        pinned=msg.pinned, pinned_at=stamp if msg.pinned else None,
        pinned_by_id=sender.id if msg.pinned else None, pin_expires=msg.pin_expires,
        silent=msg.silent, restricted_visibility=plan.restricted_ids, created_at=stamp, updated_at=stamp,
        deleted_at=None,
    )
    pk = (await conn.execute(_insert_message(conn), values)).scalar()
    if pk is None:  # a message with this id is stored: a retried send
        existing = await get_message(conn, values["id"])
        _check_retry(existing, plan)
        views, users = await message_views(conn, [existing], sender.id)
        return views[0], users, False
    if parent is not None:
        participants = list(dict.fromkeys([*parent.thread_participant_ids,
                                           *([parent.user_id] if parent.user_id else []), sender.id]))
        await conn.execute(
            update(messages).where(messages.c.pk == parent.pk).values(
                reply_count=messages.c.reply_count + 1, last_reply_at=stamp,
                thread_participant_ids=participants,
            )
        )
        await _update_thread_reads(conn, parent, participants, sender.id, values["id"], stamp,
                                   plan.restricted_ids)
    await conn.execute(_TOUCH_CHANNEL, {"b_pk": channel.pk, "b_at": stamp})
    await _update_read_state(conn, plan, values["id"], values["type"], stamp)
    stored = Message(pk=pk, cid=channel.cid, **values)
    view = MessageView(message=stored, quoted=plan.quoted)
    fresh = channel.model_copy(update={"last_message_at": stamp})
    uow.emit(MessageNew(topic=channel_topic(channel.cid), channel=fresh, view=view, users=plan.users,
                        actor_id=sender.id, member_ids=plan.member_ids))
    return view, plan.users, True


async def _update_thread_reads(conn: Connection, parent: Message, participants: list[int],
                               sender_id: int, message_id: str, stamp: datetime,
                               restricted_to: list[int] | None = None) -> None:
    """The replier has read the thread; every other participant (who sees the reply, when its
    visibility is restricted) has one more unread reply."""
    await conn.execute(insert_ignoring_conflicts(conn, thread_reads), [
        {"parent_pk": parent.pk, "user_id": user_id, "unread_replies": 0, "last_read": stamp}
        for user_id in participants
    ])
    is_sender = thread_reads.c.user_id == sender_id
    stmt = update(thread_reads).where(thread_reads.c.parent_pk == parent.pk)
    if restricted_to is not None:
        stmt = stmt.where(thread_reads.c.user_id.in_([sender_id, *restricted_to]))
    await conn.execute(stmt.values(
        unread_replies=case((is_sender, 0), else_=thread_reads.c.unread_replies + 1),
        last_read=case((is_sender, stamp), else_=thread_reads.c.last_read),
        last_read_message_id=case((is_sender, message_id), else_=thread_reads.c.last_read_message_id),
    ))


def _insert_message(conn: Connection) -> Any:
    stmt = _INSERTS.get(conn.dialect.name)
    if stmt is None:
        stmt = _INSERTS[conn.dialect.name] = prepared(
            insert_ignoring_conflicts(conn, messages).returning(messages.c.pk))
    return stmt


_INSERTS: dict[str, Any] = {}
_TOUCH_CHANNEL = prepared(
    update(channels).where(channels.c.pk == bindparam("b_pk")).values(last_message_at=bindparam("b_at")))


def _read_state_update(counts: bool, top_level: bool) -> Any:
    is_sender = members.c.user_id == bindparam("b_sender")
    stmt = update(members).where(members.c.channel_pk == bindparam("b_channel"))
    if not top_level and not counts:
        stmt = stmt.where(is_sender)
    values: dict[str, Any] = {
        "last_read": case((is_sender, bindparam("b_at")), else_=members.c.last_read),
        "last_read_message_id": case((is_sender, bindparam("b_message")), else_=members.c.last_read_message_id),
        "unread_messages": case((is_sender, 0),
                                else_=members.c.unread_messages + 1 if counts else members.c.unread_messages),
    }
    if top_level:
        values["hidden"] = False
    return stmt.values(**values)


# (counts as unread, top-level message) -> the statement
_READ_STATE = {(c, t): prepared(_read_state_update(c, t)) for c in (False, True) for t in (False, True)}


async def _update_read_state(conn: Connection, plan: SendPlan, message_id: str, msg_type: str,
                             stamp: datetime) -> None:
    """One statement: the sender has read the channel; every other member has one more unread
    message (unless it is silent, a system message or a thread-only reply); hidden channels
    show again when a new top-level message arrives. A message with restricted visibility
    touches only the members who see it."""
    shown = plan.parent is None or plan.msg.show_in_channel
    counts = shown and not plan.msg.silent and msg_type != "system" and plan.ctype.flag("read_events")
    stmt = _READ_STATE[(counts, plan.parent is None)]
    if plan.restricted_ids is not None:
        stmt = stmt.where(members.c.user_id.in_([plan.sender.id, *plan.restricted_ids]))
    await conn.execute(stmt, {
        "b_sender": plan.sender.id, "b_channel": plan.channel.pk, "b_at": stamp, "b_message": message_id})


async def send(
    uow: UnitOfWork, actor: Actor, sender: User, channel: Channel, msg: MessageInput
) -> tuple[MessageView, Users, bool]:
    """check_send + do_send inside an existing write transaction (system messages of actions)."""
    return await do_send(uow, await check_send(uow.conn, actor, sender, channel.cid, msg))


async def access_message(
    conn: Connection, actor: Actor, message_id: str, action: Action
) -> tuple[Message, Channel, ChannelType, Member | None]:
    """Load a message with its channel and the caller's membership; check ``action`` there."""
    message = await get_message(conn, message_id)
    if not sees(message, actor.user_id, server=actor.server):
        raise NotFound("message_not_found", f"Message with id {message_id} doesn't exist")
    channel, ctype, member = await _message_channel(conn, actor, message)
    check(action, actor, channel.type, member, channel)
    return message, channel, ctype, member


async def _message_channel(
    conn: Connection, actor: Actor, message: Message
) -> tuple[Channel, ChannelType, Member | None]:
    try:
        return await channel_context(conn, message.cid, actor.user_id)
    except NotFound:  # its channel was deleted
        raise NotFound("message_not_found", f"Message with id {message.id} doesn't exist") from None


def _check_own(actor: Actor, message: Message, channel: Channel, member: Member | None,
               own: Action, any_: Action) -> None:
    if actor.user_id is not None and message.user_id == actor.user_id:
        check(own, actor, channel.type, member, channel)
    else:
        check(any_, actor, channel.type, member, channel)


async def get_views(
    conn: Connection, actor: Actor, ids: Sequence[str], channel: Channel | None = None
) -> tuple[list[MessageView], Users]:
    """Messages by id (only those of ``channel`` when given), each channel checked once."""
    found = [m for m in await get_messages(conn, list(dict.fromkeys(ids)))
             if sees(m, actor.user_id, server=actor.server)]
    missing = set(ids) - {m.id for m in found}
    if missing:
        raise NotFound("message_not_found", f"Message with id {sorted(missing)[0]} doesn't exist")
    if channel is not None:
        found = [m for m in found if m.channel_pk == channel.pk]
    for cid in dict.fromkeys(m.cid for m in found):
        first = next(m for m in found if m.cid == cid)
        ch, _, member = await _message_channel(conn, actor, first)
        check(Action.READ_CHANNEL, actor, ch.type, member, ch)
    return await message_views(conn, found, actor.user_id)


async def edit(
    uow: UnitOfWork, actor: Actor, message_id: str, changes: Mapping[str, Any], *,
    unset: Sequence[str] = (), replace: bool = False, acting_user: User | None = None,
) -> tuple[MessageView, Users]:
    """Full update (``replace``: custom data replaced) or partial set/unset of a message."""
    conn = uow.conn
    message, channel, ctype, member = await access_message(conn, actor, message_id, Action.READ_CHANNEL)
    if message.deleted_at is not None:
        raise Invalid("message_deleted", "a deleted message cannot be updated")
    if set(changes) - {"pinned", "pin_expires"} or unset:
        _check_own(actor, message, channel, member, Action.UPDATE_OWN_MESSAGE, Action.UPDATE_ANY_MESSAGE)
    if "pinned" in changes or "pinned" in unset:
        check(Action.PIN_MESSAGE, actor, channel.type, member, channel)
    values: dict[str, Any] = {}
    custom = {} if replace else dict(message.custom)
    for key, value in changes.items():
        if key == "text":
            if not isinstance(value, str):
                raise Invalid("invalid_field", "message.text must be a string", field="text")
            if len(value) > ctype.max_message_length:
                raise Invalid("message_too_long",
                              f"message.text is longer than the {ctype.max_message_length} characters allowed")
            values["text"] = value
        elif key == "attachments":
            if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
                raise Invalid("invalid_attachments", "attachments must be a list of objects")
            values["attachments"] = value
        elif key == "pinned":
            if not isinstance(value, bool):
                raise Invalid("invalid_field", "pinned must be a boolean")
            values.update(pinned=value, pinned_at=now() if value else None,
                          pinned_by_id=(acting_user.id if acting_user else actor.user_id) if value else None)
            if not value:
                values["pin_expires"] = None
        elif key == "pin_expires":
            values["pin_expires"] = value
        elif key == "mentioned_chat_ids":
            found = await require_chat_users(conn, value)
            values["mentioned_user_ids"] = [u.id for u in found.values()]
        elif key == "silent":
            values["silent"] = bool(value)
        elif key == "html":
            values["html"] = value
        elif key == "restricted_visibility":
            ids = await _restricted_ids(conn, _check_restricted_visibility(value))
            if ids != message.restricted_visibility:
                _check_may_restrict(actor)
            values["restricted_visibility"] = ids
        elif key in MESSAGE_RESERVED:
            continue
        else:
            custom[key] = value
    for key in unset:
        if key == "pinned":
            values.update(pinned=False, pinned_at=None, pinned_by_id=None, pin_expires=None)
        elif key in ("text", "attachments"):
            values[key] = "" if key == "text" else []
        elif key == "restricted_visibility":
            if message.restricted_visibility is not None:
                _check_may_restrict(actor)
            values[key] = None
        else:
            custom.pop(key, None)
    values["custom"] = custom
    values["updated_at"] = stamp = now()
    if history.changed(message, values):
        await history.record(conn, message, acting_user.id if acting_user else actor.user_id, stamp)
    await conn.execute(update_stmt(message.pk, values))
    stored = await get_message(conn, message.id)
    views, users = await message_views(conn, [stored], actor.user_id)
    uow.emit(MessageUpdated(topic=channel_topic(channel.cid), channel=channel, view=views[0], users=users,
                            actor_id=actor.user_id, member_ids=await member_ids(conn, channel.pk)))
    return views[0], users


def update_stmt(pk: int, values: Mapping[str, Any]) -> Any:
    return update(messages).where(messages.c.pk == pk).values(**values)


async def delete_message(
    uow: UnitOfWork, actor: Actor, message_id: str, *, hard: bool
) -> tuple[MessageView, Users]:
    conn = uow.conn
    message, channel, ctype, member = await access_message(conn, actor, message_id, Action.READ_CHANNEL)
    _check_own(actor, message, channel, member, Action.DELETE_OWN_MESSAGE, Action.DELETE_ANY_MESSAGE)
    stamp = now()
    if hard:
        await conn.execute(delete(messages).where(messages.c.pk == message.pk))
        gone = message.model_copy(update={"type": "deleted", "deleted_at": stamp})
    else:
        if message.deleted_at is None:
            await history.record(conn, message, actor.user_id, stamp)
            await conn.execute(update_stmt(message.pk, {"type": "deleted", "deleted_at": stamp,
                                                        "updated_at": stamp}))
        gone = await get_message(conn, message.id)
    if message.parent_id and message.deleted_at is None:
        await conn.execute(
            update(messages).where(messages.c.id == message.parent_id)
            .values(reply_count=case((messages.c.reply_count > 0, messages.c.reply_count - 1), else_=0))
        )
    views, users = await message_views(conn, [gone], actor.user_id)
    uow.emit(MessageDeleted(topic=channel_topic(channel.cid), channel=channel, view=views[0], users=users,
                            hard=hard, actor_id=actor.user_id, member_ids=await member_ids(conn, channel.pk)))
    return views[0], users


async def undelete(uow: UnitOfWork, actor: Actor, message_id: str) -> tuple[MessageView, Users]:
    conn = uow.conn
    message, channel, _, member = await access_message(conn, actor, message_id, Action.READ_CHANNEL)
    check(Action.DELETE_ANY_MESSAGE, actor, channel.type, member, channel)
    if message.deleted_at is None:
        raise Invalid("message_not_deleted", f"message {message_id} is not deleted")
    restored_type = "reply" if message.parent_id else "regular"
    stamp = now()
    await history.record(conn, message, actor.user_id, stamp)
    await conn.execute(update_stmt(message.pk, {"type": restored_type, "deleted_at": None, "updated_at": stamp}))
    if message.parent_id:
        await conn.execute(update(messages).where(messages.c.id == message.parent_id)
                           .values(reply_count=messages.c.reply_count + 1))
    stored = await get_message(conn, message.id)
    views, users = await message_views(conn, [stored], actor.user_id)
    uow.emit(MessageUndeleted(topic=channel_topic(channel.cid), channel=channel, view=views[0], users=users,
                              actor_id=actor.user_id, member_ids=await member_ids(conn, channel.pk)))
    return views[0], users


async def replies(
    conn: Connection, actor: Actor, parent_id: str, page: Page, users: Users | None = None,
) -> tuple[list[MessageView], Users]:
    """Replies of a thread, oldest first: the newest ``limit`` ones (before ``id_lt``/``id_lte``
    when given), or the oldest ones after ``id_gt``/``id_gte``."""
    parent, channel, _, member = await access_message(conn, actor, parent_id, Action.READ_CHANNEL)
    stmt = message_select().where(messages.c.parent_id == parent.id, seen_by(actor.user_id, server=actor.server))
    since = visible_since(channel, member)
    if since is not None:
        stmt = stmt.where(messages.c.created_at > since)
    clauses, forward = await page_bounds(conn, page)
    stmt = stmt.where(*clauses)
    order = (messages.c.created_at, messages.c.pk) if forward else (
        messages.c.created_at.desc(), messages.c.pk.desc())
    # Like Stream, replies page by id only (an offset does not move the window).
    rows = await conn.execute(stmt.order_by(*order).limit(max(0, min(page.limit, 300))))
    found = [message_from_row(r) for r in rows]
    if not forward:
        found.reverse()
    return await message_views(conn, found, actor.user_id, users)


def thread_filter_fields() -> dict[str, Any]:
    return {
        "parent_id": messages.c.id, "parent_message_id": messages.c.id, "channel_cid": channels.c.cid,
        "cid": channels.c.cid, "created_by_user_id": chat_user_filter(messages.c.user_id),
        "created_at": messages.c.created_at,
        "updated_at": messages.c.updated_at, "last_message_at": messages.c.last_reply_at,
        "reply_count": messages.c.reply_count,
    }


async def thread_parents(
    conn: Connection, actor: Actor, conditions: Mapping[str, Any], sort: Sequence[tuple[str, int]],
    *, limit: int, offset: int,
) -> list[Message]:
    """Threads (parents with replies) the caller takes part in, most recently active first."""
    fields = thread_filter_fields()
    stmt = message_select().where(messages.c.reply_count > 0, messages.c.deleted_at.is_(None),
                                  channels.c.deleted_at.is_(None), seen_by(actor.user_id, server=actor.server),
                                  filters.compile_filter(conditions, fields))
    if actor.user_id is not None:
        replied = select(messages.c.parent_id).where(messages.c.user_id == actor.user_id,
                                                     messages.c.parent_id.is_not(None))
        stmt = stmt.where(or_(messages.c.user_id == actor.user_id, messages.c.id.in_(replied)))
    if not actor.server:
        stmt = stmt.where(readable_by(actor))
    order = filters.compile_sort(sort or [("last_message_at", -1)], fields)
    rows = await conn.execute(stmt.order_by(*order, messages.c.pk.desc()).limit(limit).offset(offset))
    return [message_from_row(r) for r in rows]
