"""Notifications (the bell): written in the unit of work of whatever caused them.

Kinds (Clubhouse's ``type`` codes):

| kind | meaning | actionable |
|---|---|---|
| 1 | ``actor`` follows you | |
| 2 | ``actor`` joined townhall (your invite or one of your contacts) | |
| 3 | ``actor`` started a room | |
| 4 | ``actor`` is on the waitlist and knows you: let them in (invite_from_waitlist) | yes |
| 6 | ``actor`` invited you to a club | yes |
| 9 | ``actor`` invites you to a room in progress | |
| 10 | ``actor`` followed a club of yours | |
| 13 | ``actor`` joined a club of yours | |
| 15 | you are the host of a scheduled event (its first host, who scheduled it) | |
| 16 | ``actor`` added you to a scheduled event as a guest (a co-host) | |

Actionable ones are also listed by ``get_actionable_notifications`` until acted on or ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from townhall.core.accounts.profiles import check_admitted
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.social.tables import notification_settings, notifications
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

FOLLOWS_YOU = 1
JOINED_APP = 2
STARTED_ROOM = 3
WAITLISTED_FRIEND = 4
INVITED_TO_CLUB = 6
INVITED_TO_ROOM = 9
FOLLOWED_CLUB = 10
JOINED_CLUB = 13
EVENT_HOST = 15
EVENT_GUEST = 16
ACTIONABLE_KINDS = frozenset({WAITLISTED_FRIEND, INVITED_TO_CLUB})
MAX_MESSAGE = 1000
MAX_INT32 = 2**31 - 1  # system_enabled is an INTEGER column


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    user_id: int
    kind: int
    actor_id: int | None
    club_id: int | None
    event_id: int | None
    message: str
    actionable: bool
    is_unread: bool
    created_at: datetime


async def do_notify(
    uow: UnitOfWork,
    *,
    user_id: int,
    kind: int,
    actor_id: int | None = None,
    club_id: int | None = None,
    event_id: int | None = None,
    message: str = "",
) -> None:
    """Notify ``user_id`` (never of their own doing), in the caller's unit of work."""
    if actor_id is not None and actor_id == user_id:
        return
    await uow.conn.execute(insert(notifications).values(
        user_id=user_id, kind=kind, actor_id=actor_id, club_id=club_id, event_id=event_id,
        message=(message or "")[:MAX_MESSAGE], actionable=kind in ACTIONABLE_KINDS, is_unread=True,
        created_at=now(),
    ))


async def do_notify_event_hosts(uow: UnitOfWork, *, event_id: int, host_ids: Sequence[int],
                                before: Collection[int], actor_id: int) -> None:
    """Tell the people newly on a scheduled event's host list (``host_ids`` in order, ``before``
    the list before the change): the first is the event's host (15), the others its guests (16).
    Nobody hears of their own doing, nor again of a place they already had."""
    for position, user_id in enumerate(host_ids):
        if user_id not in before:
            await do_notify(uow, user_id=user_id, kind=EVENT_HOST if position == 0 else EVENT_GUEST,
                            actor_id=actor_id, event_id=event_id)


def _row(r: Any) -> Notification:
    return Notification(id=r.id, user_id=r.user_id, kind=r.kind, actor_id=r.actor_id, club_id=r.club_id,
                        event_id=r.event_id, message=r.message or "", actionable=r.actionable,
                        is_unread=r.is_unread, created_at=r.created_at)


async def list_notifications(
    conn: Connection, user_id: int, *, actionable: bool = False, limit: int, offset: int
) -> tuple[list[Notification], int]:
    """A page of the user's notifications, newest first, and how many there are."""
    where = [notifications.c.user_id == user_id]
    if actionable:
        where += [notifications.c.actionable.is_(True), notifications.c.ignored_at.is_(None)]
    count = (await conn.execute(select(func.count()).select_from(notifications).where(*where))).scalar_one()
    rows = await conn.execute(
        select(notifications).where(*where).order_by(notifications.c.id.desc()).limit(limit).offset(offset))
    return [_row(r) for r in rows], int(count)


async def counts(conn: Connection, user_id: int) -> tuple[int, int]:
    """(unread notifications, open actionable notifications)."""
    row = (await conn.execute(select(
        func.count().filter(notifications.c.is_unread.is_(True)),
        func.count().filter(and_(notifications.c.actionable.is_(True), notifications.c.ignored_at.is_(None))),
    ).where(notifications.c.user_id == user_id))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def do_mark_read(uow: UnitOfWork, user_id: int, ids: list[int]) -> None:
    if ids:
        await uow.conn.execute(update(notifications).where(
            notifications.c.user_id == user_id, notifications.c.id.in_(ids), notifications.c.is_unread.is_(True),
        ).values(is_unread=False))


async def do_ignore_actionable(uow: UnitOfWork, user_id: int, notification_id: int) -> None:
    result = await uow.conn.execute(update(notifications).where(
        notifications.c.id == notification_id, notifications.c.user_id == user_id,
        notifications.c.actionable.is_(True),
    ).values(ignored_at=now(), is_unread=False))
    if result.rowcount == 0:
        raise NotFound("notification_not_found", "That notification does not exist.")


async def do_resolve_actionable(uow: UnitOfWork, user_id: int, *, kind: int, actor_id: int | None = None,
                                club_id: int | None = None) -> None:
    """Close the open actionable notifications a user has just acted on."""
    where = [notifications.c.user_id == user_id, notifications.c.kind == kind, notifications.c.ignored_at.is_(None)]
    if actor_id is not None:
        where.append(notifications.c.actor_id == actor_id)
    if club_id is not None:
        where.append(notifications.c.club_id == club_id)
    await uow.conn.execute(update(notifications).where(*where).values(ignored_at=now(), is_unread=False))


# -- settings


@dataclass(frozen=True, slots=True)
class Settings:
    enable_trending: bool = True
    frequency: int = 3
    paused_until: datetime | None = None

    @property
    def is_paused(self) -> bool:
        return self.paused_until is not None and self.paused_until > now()


async def get_settings(conn: Connection, user_id: int) -> Settings:
    row = (await conn.execute(select(notification_settings).where(
        notification_settings.c.user_id == user_id))).first()
    if row is None:
        return Settings()
    return Settings(enable_trending=row.enable_trending, frequency=row.frequency, paused_until=row.paused_until)


async def do_update_settings(
    uow: UnitOfWork, user_id: int, *, enable_trending: bool | None = None, frequency: int | None = None,
    paused_until: datetime | None | bool = False, system_enabled: int | None = None, apn_token: str | None = None,
) -> Settings:
    """Change what is given (``paused_until=False``: leave it; None: unpause). Waitlisted
    accounts may not."""
    await check_admitted(uow.conn, user_id)
    if frequency is not None and not 1 <= frequency <= 3:
        raise Invalid("invalid_frequency", "frequency must be 1, 2 or 3")
    if system_enabled is not None and not 0 <= system_enabled <= MAX_INT32:
        raise Invalid("invalid_field", f"system_enabled must be an integer from 0 to {MAX_INT32}.")
    # One row per user, created race-free (two first updates at once must not collide).
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, notification_settings).values(
        user_id=user_id, enable_trending=True, frequency=3))
    current = await get_settings(uow.conn, user_id)
    values: dict[str, Any] = {
        "enable_trending": current.enable_trending if enable_trending is None else enable_trending,
        "frequency": current.frequency if frequency is None else frequency,
        "paused_until": current.paused_until if paused_until is False else paused_until,
    }
    if system_enabled is not None:
        values["system_enabled"] = system_enabled
    if apn_token is not None:
        values["apn_token"] = apn_token
    await uow.conn.execute(update(notification_settings).where(
        notification_settings.c.user_id == user_id).values(**values))
    return await get_settings(uow.conn, user_id)
