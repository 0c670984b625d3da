"""Row <-> model conversion and the small loaders every chat module shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, literal, or_, select, true, tuple_

from townhall.core.chat.models import Channel, ChannelType, Member, Message, Reaction
from townhall.core.chat.tables import channel_types, channels, members, messages
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.filters import json_list_contains
from townhall.db.database import Connection, prepared

_message_select = select(messages, channels.c.cid).join(channels, channels.c.pk == messages.c.channel_pk)


def channel_from_row(row: Any) -> Channel:
    m = row._mapping
    return Channel(
        pk=m["pk"], type=m["type"], id=m["id"], cid=m["cid"], created_by_id=m["created_by_id"],
        custom=m["custom"] or {}, frozen=m["frozen"], disabled=m["disabled"],
        member_count=m["member_count"], last_message_at=m["last_message_at"],
        truncated_at=m["truncated_at"], created_at=m["created_at"], updated_at=m["updated_at"],
        deleted_at=m["deleted_at"],
    )


def member_from_row(row: Any) -> Member:
    m = row._mapping
    return Member(**{c.name: m[c.name] for c in members.columns if c.name != "custom"}, custom=m["custom"] or {})


def message_from_row(row: Any) -> Message:
    m = row._mapping
    message = Message(
        **{c.name: m[c.name] for c in messages.columns
           if c.name not in ("attachments", "mentioned_user_ids", "custom", "reaction_counts",
                             "reaction_scores", "thread_participant_ids")},
        cid=m["cid"],
        attachments=m["attachments"] or [],
        mentioned_user_ids=m["mentioned_user_ids"] or [],
        custom=m["custom"] or {},
        reaction_counts=m["reaction_counts"] or {},
        reaction_scores=m["reaction_scores"] or {},
        thread_participant_ids=m["thread_participant_ids"] or [],
    )
    if message.pinned and message.pin_expires is not None and message.pin_expires <= now():
        # An expired pin reads as unpinned; the row keeps its history.
        message.pinned, message.pinned_at, message.pinned_by_id = False, None, None
    return message


def reaction_from_row(row: Any, message_id: str) -> Reaction:
    m = row._mapping
    return Reaction(
        message_id=message_id, user_id=m["user_id"], type=m["type"], score=m["score"],
        custom=m["custom"] or {}, created_at=m["created_at"], updated_at=m["updated_at"],
    )


# The statements of the hot paths (sending, reading) are built once: building and keying a
# statement costs more than running it on SQLite.
_CHANNEL_BY_CID = prepared(
    select(channels).where(channels.c.cid == bindparam("cid"), channels.c.deleted_at.is_(None)))
_MEMBER = prepared(select(members).where(members.c.channel_pk == bindparam("channel_pk"),
                                         members.c.user_id == bindparam("user_id")))
_MEMBER_IDS = prepared(select(members.c.user_id).where(members.c.channel_pk == bindparam("channel_pk")))
_MESSAGE_BY_ID = prepared(_message_select.where(messages.c.id == bindparam("id")))


_member_cols = [c.label(f"m_{c.name}") for c in members.columns]
_CHANNEL_CONTEXT = prepared(
    select(channels, channel_types.c.config.label("type_config"),
           channel_types.c.created_at.label("type_created_at"),
           channel_types.c.updated_at.label("type_updated_at"), *_member_cols)
    .join(channel_types, channel_types.c.name == channels.c.type)
    .outerjoin(members, and_(members.c.channel_pk == channels.c.pk, members.c.user_id == bindparam("user_id")))
    .where(channels.c.cid == bindparam("cid"), channels.c.deleted_at.is_(None))
)


async def channel_context(
    conn: Connection, cid: str, user_id: int | None
) -> tuple[Channel, ChannelType, Member | None]:
    """A channel, its type and ``user_id``'s membership, in one query."""
    row = (await conn.execute(_CHANNEL_CONTEXT, {"cid": cid, "user_id": user_id})).first()
    if row is None:
        raise NotFound("channel_not_found", f"Can't find channel with id {cid}")
    m = row._mapping
    ctype = ChannelType(name=m["type"], config=m["type_config"], created_at=m["type_created_at"],
                        updated_at=m["type_updated_at"])
    member = None
    if m["m_user_id"] is not None:
        member = Member(**{c.name: m[f"m_{c.name}"] for c in members.columns if c.name != "custom"},
                        custom=m["m_custom"] or {})
    return channel_from_row(row), ctype, member


async def find_channel(conn: Connection, cid: str) -> Channel | None:
    row = (await conn.execute(_CHANNEL_BY_CID, {"cid": cid})).first()
    return channel_from_row(row) if row is not None else None


async def get_channel(conn: Connection, cid: str) -> Channel:
    channel = await find_channel(conn, cid)
    if channel is None:
        raise NotFound("channel_not_found", f"Can't find channel with id {cid}")
    return channel


async def get_member(conn: Connection, channel_pk: int, user_id: int | None) -> Member | None:
    if user_id is None:
        return None
    row = (await conn.execute(_MEMBER, {"channel_pk": channel_pk, "user_id": user_id})).first()
    return member_from_row(row) if row is not None else None


async def get_members(conn: Connection, channel_pk: int, user_ids: Iterable[int] | None = None,
                      *, limit: int | None = None, offset: int = 0) -> list[Member]:
    stmt = select(members).where(members.c.channel_pk == channel_pk)
    if user_ids is not None:
        stmt = stmt.where(members.c.user_id.in_(list(user_ids)))
    stmt = stmt.order_by(members.c.created_at, members.c.user_id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [member_from_row(r) for r in await conn.execute(stmt)]


async def member_ids(conn: Connection, channel_pk: int) -> list[int]:
    rows = await conn.execute(_MEMBER_IDS, {"channel_pk": channel_pk})
    return list(rows.scalars())


async def find_message(conn: Connection, message_id: str) -> Message | None:
    row = (await conn.execute(_MESSAGE_BY_ID, {"id": message_id})).first()
    return message_from_row(row) if row is not None else None


async def get_message(conn: Connection, message_id: str) -> Message:
    message = await find_message(conn, message_id)
    if message is None:
        raise NotFound("message_not_found", f"Message with id {message_id} doesn't exist")
    return message


async def get_messages(conn: Connection, ids: Sequence[str]) -> list[Message]:
    if not ids:
        return []
    rows = await conn.execute(_message_select.where(messages.c.id.in_(list(ids))))
    found = {m.id: m for m in map(message_from_row, rows)}
    return [found[i] for i in ids if i in found]


def message_select() -> Any:
    return _message_select




def seen_by(viewer_id: int | None, *, server: bool = False) -> Any:
    """SQL for "a message this reader sees": a message with restricted visibility is seen by the
    users it lists and its sender; server-side calls see every message."""
    if server:
        return true()
    everyone = messages.c.restricted_visibility.is_(None)
    if viewer_id is None:
        return everyone
    return or_(everyone, messages.c.user_id == viewer_id,
               json_list_contains(messages.c.restricted_visibility, literal(viewer_id)))


def sees(message: Message, viewer_id: int | None, *, server: bool = False) -> bool:
    """``seen_by`` for a message already loaded."""
    return (server or message.restricted_visibility is None
            or (viewer_id is not None and (viewer_id == message.user_id
                                           or viewer_id in message.restricted_visibility)))


async def page_bounds(conn: Connection, page: Any) -> tuple[list[Any], bool]:
    """WHERE clauses for ``id_lt/id_lte/id_gt/id_gte`` paging over (created_at, pk), and whether
    the page runs forward (after a pivot) rather than back from the newest."""
    key = tuple_(messages.c.created_at, messages.c.pk)
    clauses, forward = [], False
    for bound, op in ((page.id_lt, "lt"), (page.id_lte, "lte"), (page.id_gt, "gt"), (page.id_gte, "gte")):
        if bound is None:
            continue
        pivot = (await conn.execute(
            select(messages.c.created_at, messages.c.pk).where(messages.c.id == bound))).first()
        if pivot is None:
            raise Invalid("invalid_pagination", f"message {bound} used for pagination does not exist")
        at = tuple_(literal(pivot.created_at, messages.c.created_at.type), literal(pivot.pk))
        clauses.append({"lt": key < at, "lte": key <= at, "gt": key > at, "gte": key >= at}[op])
        forward = forward or op in ("gt", "gte")
    return clauses, forward
