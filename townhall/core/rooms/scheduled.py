"""Scheduled events: a room announced ahead, with hosts, optionally for a club.

Rules (the one place they live):
- anyone signed in may schedule an event; they are its first host; a club's event is scheduled by
  one of its admins; ``is_member_only`` events belong to a club and are seen only by its members
  and the event's hosts;
- the creator and the club's admins edit and delete an event;
- people added to an event hear of it when added: its first host gets notification kind 15, the
  other hosts (guests) kind 16;
- an event is upcoming until EXPIRES_AFTER past its start (or once its room has started).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from townhall.core import fields
from townhall.core.accounts.tables import users
from townhall.core.clock import now, parse_time
from townhall.core.communities.models import ADMIN
from townhall.core.communities.service import access_club, relation
from townhall.core.communities.tables import community_followers, community_members
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.fields import check_positive_id, check_title
from townhall.core.rooms.tables import scheduled_event_hosts as hosts
from townhall.core.rooms.tables import scheduled_events as events
from townhall.core.social import notifications
from townhall.core.social.tables import follows
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

MAX_NAME = 100
MAX_DESCRIPTION = 500
MAX_HOSTS = 10
MAX_AHEAD = timedelta(days=365)
PAST_GRACE = timedelta(minutes=5)  # clock skew: a start a little in the past is "now"
EXPIRES_AFTER = timedelta(hours=1)
MAX_TO_START = 100  # get_events_to_start is not paginated
TO_START_WINDOW = timedelta(minutes=60)  # get_events_to_start: events starting within this window
_HASH_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    id: int
    hashid: str
    name: str
    description: str
    time_start: datetime
    club_id: int | None
    is_member_only: bool
    created_by_id: int
    channel: str | None
    host_ids: list[int]
    created_at: datetime

    def is_expired(self, at: datetime | None = None) -> bool:
        return (at or now()) > self.time_start + EXPIRES_AFTER


# -- checks


def check_event_id(value: Any) -> int:
    return check_positive_id(value, "event_id")


def check_name(value: Any) -> str:
    return check_title(value, code="invalid_event_name", what="An event", max_length=MAX_NAME)


def check_description(value: Any) -> str:
    return fields.check_description(value, what="An event", max_length=MAX_DESCRIPTION)


def parse_start(value: Any) -> datetime:
    """A start as clients send it: epoch seconds (``time_start_epoch``) or an ISO 8601 time."""
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            try:
                return datetime.fromtimestamp(float(text), UTC)
            except ValueError:
                parsed = parse_time(text)
                assert parsed is not None
                return parsed
    except (ValueError, OverflowError, OSError, AssertionError):
        pass
    raise Invalid("invalid_time_start", "time_start must be a time (epoch seconds or ISO 8601)", field="time_start")


def check_start(value: datetime, at: datetime | None = None) -> datetime:
    at = at or now()
    if value < at - PAST_GRACE:
        raise Invalid("time_start_in_past", "An event cannot start in the past.", field="time_start")
    if value > at + MAX_AHEAD:
        raise Invalid("time_start_too_far", "An event starts within a year.", field="time_start")
    return value


def check_host_ids(value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise Invalid("invalid_user_ids", "user_ids must be a list of user ids", field="user_ids")
    out: list[int] = []
    for item in value:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**63:
            raise Invalid("invalid_user_ids", "user_ids must be a list of user ids", field="user_ids")
        if item not in out:
            out.append(item)
    return out


# -- reads


def _visible_to(viewer_id: int) -> Any:
    """Events a viewer may see: not member-only, or they are in its club, or they host it."""
    return or_(
        events.c.is_member_only.is_(False),
        events.c.club_id.in_(select(community_members.c.community_id).where(
            community_members.c.user_id == viewer_id)),
        events.c.id.in_(select(hosts.c.event_id).where(hosts.c.user_id == viewer_id)),
    )


def _upcoming(at: datetime) -> Any:
    return and_(events.c.time_start >= at - EXPIRES_AFTER, events.c.channel.is_(None))


async def _load(conn: Connection, where: Sequence[Any], *, order: Sequence[Any] = (), limit: int | None = None,
                offset: int = 0) -> list[ScheduledEvent]:
    stmt = select(events).where(*where).order_by(*order, events.c.time_start, events.c.id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    rows = (await conn.execute(stmt)).all()
    if not rows:
        return []
    host_rows = (await conn.execute(select(hosts.c.event_id, hosts.c.user_id).where(
        hosts.c.event_id.in_([r.id for r in rows])).order_by(hosts.c.event_id, hosts.c.position))).all()
    by_event: dict[int, list[int]] = {}
    for h in host_rows:
        by_event.setdefault(h.event_id, []).append(h.user_id)
    return [ScheduledEvent(
        id=r.id, hashid=r.hashid, name=r.name, description=r.description or "", time_start=r.time_start,
        club_id=r.club_id, is_member_only=r.is_member_only, created_by_id=r.created_by_id, channel=r.channel,
        host_ids=by_event.get(r.id, []), created_at=r.created_at) for r in rows]


async def _page(conn: Connection, where: Sequence[Any], limit: int, offset: int) -> tuple[list[ScheduledEvent], int]:
    count = (await conn.execute(select(func.count()).select_from(events).where(*where))).scalar_one()
    return await _load(conn, where, limit=limit, offset=offset), int(count)


async def access_event(conn: Connection, viewer_id: int, *, event_id: int | None = None,
                       hashid: str | None = None) -> ScheduledEvent:
    """The event by id or hashid, if the viewer may see it."""
    if event_id is not None:
        key = events.c.id == event_id
    elif isinstance(hashid, str) and hashid:
        key = events.c.hashid == hashid
    else:
        raise Invalid("invalid_event_id", "event_id or event_hashid is required", field="event_id")
    found = await _load(conn, [key])
    if not found:
        raise NotFound("event_not_found", "This event does not exist.")
    event = found[0]
    if event.is_member_only and viewer_id not in event.host_ids:
        if event.club_id is None or not (await relation(conn, event.club_id, viewer_id)).is_member:
            raise NotFound("event_not_found", "This event does not exist.")
    return event


async def get_events(conn: Connection, ids: Iterable[int]) -> dict[int, ScheduledEvent]:
    wanted = list(set(ids))
    return {e.id: e for e in await _load(conn, [events.c.id.in_(wanted)])} if wanted else {}


async def upcoming_for_user(conn: Connection, viewer_id: int, *, filtered: bool = True, limit: int, offset: int,
                            at: datetime | None = None) -> tuple[list[ScheduledEvent], int]:
    """"Upcoming for you": events hosted by people the viewer follows or by the viewer, and events of
    clubs the viewer follows or is in. Unfiltered: every upcoming event the viewer may see."""
    where = [_upcoming(at or now()), _visible_to(viewer_id)]
    if filtered:
        followed = select(follows.c.followee_id).where(follows.c.follower_id == viewer_id)
        where.append(or_(
            events.c.id.in_(select(hosts.c.event_id).where(or_(hosts.c.user_id.in_(followed),
                                                               hosts.c.user_id == viewer_id))),
            events.c.club_id.in_(select(community_followers.c.community_id).where(
                community_followers.c.user_id == viewer_id)),
            events.c.club_id.in_(select(community_members.c.community_id).where(
                community_members.c.user_id == viewer_id)),
        ))
    return await _page(conn, where, limit, offset)


async def events_for_user(conn: Connection, viewer_id: int, user_id: int, *, limit: int, offset: int,
                          at: datetime | None = None) -> tuple[list[ScheduledEvent], int]:
    """Upcoming events ``user_id`` hosts (that the viewer may see)."""
    exists_ = (await conn.execute(select(users.c.id).where(users.c.id == user_id,
                                                           users.c.deleted_at.is_(None)))).first()
    if exists_ is None:
        raise NotFound("user_not_found", "This user does not exist.")
    where = [_upcoming(at or now()), _visible_to(viewer_id),
             events.c.id.in_(select(hosts.c.event_id).where(hosts.c.user_id == user_id))]
    return await _page(conn, where, limit, offset)


async def events_for_club(conn: Connection, viewer_id: int, club_id: int, *, limit: int, offset: int,
                          at: datetime | None = None) -> tuple[list[ScheduledEvent], int]:
    await access_club(conn, club_id)
    where = [_upcoming(at or now()), _visible_to(viewer_id), events.c.club_id == club_id]
    return await _page(conn, where, limit, offset)


async def events_to_start(conn: Connection, user_id: int, *, at: datetime | None = None,
                          limit: int = MAX_TO_START) -> list[ScheduledEvent]:
    """Events the user hosts whose room they may start now: starting within TO_START_WINDOW, not
    expired; the first ``limit`` of them."""
    at = at or now()
    where = [_upcoming(at), events.c.time_start <= at + TO_START_WINDOW,
             events.c.id.in_(select(hosts.c.event_id).where(hosts.c.user_id == user_id))]
    return await _load(conn, where, limit=limit)


# -- writes


async def _check_users(conn: Connection, ids: Sequence[int]) -> None:
    if not ids:
        return
    found = set((await conn.execute(select(users.c.id).where(
        users.c.id.in_(ids), users.c.deleted_at.is_(None)))).scalars())
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid("users_not_found", "Some of the hosts do not exist.", user_ids=missing)


async def _check_club(conn: Connection, actor_id: int, club_id: int | None) -> None:
    if club_id is None:
        return
    await access_club(conn, club_id)
    if not (await relation(conn, club_id, actor_id)).is_admin:
        raise Forbidden("not_club_admin", "Only the club's admins can schedule its events.")


async def _set_hosts(uow: UnitOfWork, event_id: int, host_ids: Sequence[int], before: Sequence[int],
                     actor_id: int) -> None:
    await uow.conn.execute(delete(hosts).where(hosts.c.event_id == event_id))
    for position, user_id in enumerate(host_ids):
        await uow.conn.execute(insert(hosts).values(event_id=event_id, user_id=user_id, position=position))
    await notifications.do_notify_event_hosts(uow, event_id=event_id, host_ids=host_ids, before=before,
                                              actor_id=actor_id)


def _new_hashid() -> str:
    return "".join(secrets.choice(_HASH_ALPHABET) for _ in range(10))


async def do_create_event(
    uow: UnitOfWork, creator_id: int, *, name: Any, time_start: Any, description: Any = None,
    host_ids: Any = None, club_id: int | None = None, is_member_only: Any = False, at: datetime | None = None,
) -> ScheduledEvent:
    """Schedule an event; the creator hosts it first. Idempotent for a retried request: the same
    creator scheduling the same name at the same time gets the event already made."""
    name = check_name(name)
    description = check_description(description)
    start = check_start(time_start if isinstance(time_start, datetime) else parse_start(time_start), at)
    hosts_ = [creator_id] + [h for h in check_host_ids(host_ids) if h != creator_id]
    if len(hosts_) > MAX_HOSTS:
        raise Invalid("too_many_hosts", f"An event has at most {MAX_HOSTS} hosts.", field="user_ids")
    if not isinstance(is_member_only, bool):
        raise Invalid("invalid_is_member_only", "is_member_only must be a boolean", field="is_member_only")
    if is_member_only and club_id is None:
        raise Invalid("member_only_needs_club", "Only a club's event can be for members only.",
                      field="is_member_only")
    await _check_users(uow.conn, hosts_)
    await _check_club(uow.conn, creator_id, club_id)
    same = await _load(uow.conn, [events.c.created_by_id == creator_id, events.c.name == name,
                                  events.c.time_start == start])
    if same:
        return same[0]
    stamp = now()
    event_id = (await uow.conn.execute(insert(events).values(
        hashid=_new_hashid(), name=name, description=description, time_start=start, club_id=club_id,
        is_member_only=is_member_only, created_by_id=creator_id, channel=None, created_at=stamp,
        updated_at=stamp).returning(events.c.id))).scalar_one()
    await _set_hosts(uow, event_id, hosts_, [], creator_id)
    return (await _load(uow.conn, [events.c.id == event_id]))[0]


async def check_may_manage(conn: Connection, actor_id: int, event: ScheduledEvent) -> None:
    """The creator and the admins of the event's club manage it."""
    if actor_id == event.created_by_id:
        return
    if event.club_id is not None:
        admin = (await conn.execute(select(community_members.c.user_id).where(
            community_members.c.community_id == event.club_id, community_members.c.user_id == actor_id,
            community_members.c.role == ADMIN))).first()
        if admin is not None:
            return
    raise Forbidden("not_event_manager", "Only the event's creator or its club's admins can change it.")


async def do_edit_event(uow: UnitOfWork, actor_id: int, changes: Mapping[str, Any], *, event_id: int | None = None,
                        hashid: str | None = None, at: datetime | None = None) -> ScheduledEvent:
    """Change ``name``, ``description``, ``time_start``, ``host_ids``, ``club_id``, ``is_member_only``
    of the event (by id or hashid), loaded and checked in this unit of work."""
    event = await access_event(uow.conn, actor_id, event_id=event_id, hashid=hashid)
    await check_may_manage(uow.conn, actor_id, event)
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = check_name(changes["name"])
    if "description" in changes:
        values["description"] = check_description(changes["description"])
    if "time_start" in changes:
        start = changes["time_start"]
        start = start if isinstance(start, datetime) else parse_start(start)
        if start != event.time_start:
            values["time_start"] = check_start(start, at)
    club_id = changes.get("club_id", event.club_id)
    if club_id != event.club_id:
        await _check_club(uow.conn, actor_id, club_id)
        values["club_id"] = club_id
    member_only = changes.get("is_member_only", event.is_member_only)
    if not isinstance(member_only, bool):
        raise Invalid("invalid_is_member_only", "is_member_only must be a boolean", field="is_member_only")
    if member_only and club_id is None:
        raise Invalid("member_only_needs_club", "Only a club's event can be for members only.",
                      field="is_member_only")
    values["is_member_only"] = member_only
    new_hosts = None
    if "host_ids" in changes and changes["host_ids"] is not None:
        new_hosts = [event.created_by_id] + [h for h in check_host_ids(changes["host_ids"])
                                             if h != event.created_by_id]
        if len(new_hosts) > MAX_HOSTS:
            raise Invalid("too_many_hosts", f"An event has at most {MAX_HOSTS} hosts.", field="user_ids")
        await _check_users(uow.conn, new_hosts)
    await uow.conn.execute(update(events).where(events.c.id == event.id).values(**values, updated_at=now()))
    if new_hosts is not None and new_hosts != event.host_ids:
        await _set_hosts(uow, event.id, new_hosts, event.host_ids, actor_id)
    return (await _load(uow.conn, [events.c.id == event.id]))[0]


async def do_delete_event(uow: UnitOfWork, actor_id: int, *, event_id: int | None = None,
                          hashid: str | None = None) -> None:
    """Delete the event (by id or hashid), loaded and checked in this unit of work."""
    event = await access_event(uow.conn, actor_id, event_id=event_id, hashid=hashid)
    await check_may_manage(uow.conn, actor_id, event)
    await uow.conn.execute(delete(events).where(events.c.id == event.id))


async def do_mark_started(uow: UnitOfWork, event_id: int, channel: str) -> None:
    """The event's room has started (for the rooms half): it leaves the upcoming lists."""
    await uow.conn.execute(update(events).where(events.c.id == event_id).values(channel=channel, updated_at=now()))

