"""Reactions; a message's counts and scores are recomputed in the same transaction."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from townhall.core.accounts.models import User
from townhall.core.chat.events import ReactionChanged
from townhall.core.chat.messages import access_message
from townhall.core.chat.models import Message, MessageView, Reaction, Users
from townhall.core.chat.permissions import Action, Actor
from townhall.core.chat.store import get_message, member_ids, reaction_from_row
from townhall.core.chat.tables import messages, reactions
from townhall.core.chat.views import load_users, message_views
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.events import channel_topic
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

TYPE_RE = re.compile(r"^[^\s]{1,64}$")
RESERVED = frozenset({"type", "score", "user", "user_id", "message_id", "created_at", "updated_at"})


async def _recount(conn: Connection, message: Message) -> None:
    rows = await conn.execute(
        select(reactions.c.type, func.count(), func.sum(reactions.c.score))
        .where(reactions.c.message_pk == message.pk).group_by(reactions.c.type)
    )
    counts, scores = {}, {}
    for kind, count, score in rows:
        counts[kind], scores[kind] = count, int(score or 0)
    await conn.execute(update(messages).where(messages.c.pk == message.pk)
                       .values(reaction_counts=counts, reaction_scores=scores))


async def send(
    uow: UnitOfWork, actor: Actor, user: User, message_id: str, kind: Any, *, score: Any = 1,
    custom: Mapping[str, Any] | None = None, enforce_unique: bool = False,
) -> tuple[MessageView, Reaction, Users]:
    conn = uow.conn
    message, channel, ctype, _ = await access_message(conn, actor, message_id, Action.SEND_REACTION)
    if not ctype.flag("reactions"):
        raise Invalid("reactions_disabled", f'reactions are disabled for channel type "{ctype.name}"')
    if not isinstance(kind, str) or not TYPE_RE.match(kind):
        raise Invalid("invalid_reaction_type", "reaction.type must be 1-64 characters without spaces")
    if not isinstance(score, int) or isinstance(score, bool) or score < 1:
        raise Invalid("invalid_reaction_score", "reaction.score must be a positive integer")
    if message.deleted_at is not None:
        raise Invalid("message_deleted", "cannot react to a deleted message")
    stamp = now()
    extra = {k: v for k, v in (custom or {}).items() if k not in RESERVED}
    mine = reactions.c.message_pk == message.pk, reactions.c.user_id == user.id
    existing = (await conn.execute(select(reactions).where(*mine, reactions.c.type == kind))).first()
    created = existing is None
    if enforce_unique:
        await conn.execute(delete(reactions).where(*mine, reactions.c.type != kind))
    if existing is None:
        await conn.execute(insert(reactions).values(
            message_pk=message.pk, user_id=user.id, type=kind, score=score, custom=extra,
            created_at=stamp, updated_at=stamp))
    else:
        await conn.execute(update(reactions).where(reactions.c.pk == existing.pk)
                           .values(score=score, custom=extra, updated_at=stamp))
    await _recount(conn, message)
    row = (await conn.execute(select(reactions).where(*mine, reactions.c.type == kind))).one()
    reaction = reaction_from_row(row, message.id)
    views, users = await message_views(conn, [await get_message(conn, message.id)], user.id)
    await load_users(conn, users, [user.id])
    uow.emit(ReactionChanged(topic=channel_topic(channel.cid), channel=channel, kind="new" if created else "updated",
                             view=views[0], reaction=reaction, users=users, actor_id=user.id,
                             member_ids=await member_ids(conn, channel.pk)))
    return views[0], reaction, users


async def remove(
    uow: UnitOfWork, actor: Actor, user: User, message_id: str, kind: str
) -> tuple[MessageView, Reaction, Users]:
    conn = uow.conn
    message, channel, _, _ = await access_message(conn, actor, message_id, Action.DELETE_OWN_REACTION)
    mine = reactions.c.message_pk == message.pk, reactions.c.user_id == user.id, reactions.c.type == kind
    row = (await conn.execute(select(reactions).where(*mine))).first()
    if row is None:
        raise NotFound("reaction_not_found", f'reaction "{kind}" by this user does not exist')
    reaction = reaction_from_row(row, message.id)
    await conn.execute(delete(reactions).where(*mine))
    await _recount(conn, message)
    views, users = await message_views(conn, [await get_message(conn, message.id)], user.id)
    await load_users(conn, users, [user.id])
    uow.emit(ReactionChanged(topic=channel_topic(channel.cid), channel=channel, kind="deleted",
                             view=views[0], reaction=reaction, users=users, actor_id=user.id,
                             member_ids=await member_ids(conn, channel.pk)))
    return views[0], reaction, users


async def list_reactions(
    conn: Connection, actor: Actor, message_id: str, *, limit: int, offset: int,
    kind: str | None = None, user_id: int | None = None,
) -> tuple[list[Reaction], Users]:
    message, _, _, _ = await access_message(conn, actor, message_id, Action.READ_CHANNEL)
    stmt = select(reactions).where(reactions.c.message_pk == message.pk)
    if kind is not None:
        stmt = stmt.where(reactions.c.type == kind)
    if user_id is not None:
        stmt = stmt.where(reactions.c.user_id == user_id)
    rows = await conn.execute(stmt.order_by(reactions.c.created_at.desc(), reactions.c.pk.desc())
                              .limit(limit).offset(offset))
    found = [reaction_from_row(r, message.id) for r in rows]
    return found, await load_users(conn, Users(), [r.user_id for r in found])
