"""Room actions that reach the media server: the database change runs in its own unit of work,
the media call after commit (never inside a unit: AGENTS.md "Write path").

- create: the media room is made first, the room row only once it exists (a media failure leaves
  nothing behind); if storing fails, the media room is destroyed again;
- join / accept a speaker invitation: state first, then credentials; if the media server cannot
  give them, the join is undone (the user is not left half in the room) and ``MediaFailed`` raised;
- promotion, demotion, mute, removal, end: state first, then ``set_publish``/``kick``/
  ``destroy_room``, best effort (state is townhall's; a media server that is down is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from townhall.core.clock import now
from townhall.core.errors import DomainError
from townhall.core.rooms import service
from townhall.core.rooms.models import IN_ROOM, LISTENER, Joined, Participant, Room
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.media.base import AccessCheck, JoinCredentials, MediaBackend, MediaError

log = logging.getLogger(__name__)

UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


class MediaFailed(DomainError):
    kind = "unavailable"

    def __init__(self, message: str = "The audio server is not available right now. Please try again.") -> None:
        super().__init__("media_unavailable", message)


@dataclass(frozen=True, slots=True)
class Entered:
    room: Room
    participant: Participant
    credentials: JoinCredentials


async def _best_effort(what: str, call: Any) -> None:
    try:
        await call
    except MediaError:
        log.warning("media call failed: %s", what, exc_info=True)


async def _destroy(media: MediaBackend, rooms: list[Room]) -> None:
    for room in rooms:
        await _best_effort(f"destroy_room {room.code}", media.destroy_room(room.code))


async def _credentials(media: MediaBackend, room: Room, part: Participant) -> JoinCredentials:
    return await media.credentials(room.code, str(part.user_id), can_publish=part.role != LISTENER and not part.muted)


async def create(uow: UowFactory, media: MediaBackend, creator_id: int, *, at: datetime | None = None,
                 **fields: Any) -> Entered:
    async with uow() as unit:  # checks only (a read in the writer's unit: consistent with the write)
        draft = await service.check_create(unit.conn, creator_id, **fields)
        again = await service.recent_duplicate(unit.conn, draft, at=at)
    if again is not None:  # a retried create_channel joins the room the first one made
        return await join(uow, media, creator_id, again.code, at=at)
    try:
        made = await media.create_room(draft.code)
    except MediaError as exc:
        raise MediaFailed() from exc
    try:
        async with uow() as unit:
            ended = await service.do_leave_other_rooms(unit, creator_id, -1, at or now())
            joined = await service.do_create_room(unit, draft, media_backend=made.backend,
                                                  media_room=made.media_room, at=at)
    except BaseException:
        await _best_effort(f"destroy_room {draft.code}", media.destroy_room(draft.code))
        raise
    await _destroy(media, ended)
    return await _enter(uow, media, joined)


async def _enter(uow: UowFactory, media: MediaBackend, joined: Joined) -> Entered:
    try:
        creds = await _credentials(media, joined.room, joined.participant)
    except MediaError as exc:
        if joined.is_new:
            async with uow() as unit:
                _, ended = await service.do_leave(unit, joined.participant.user_id, joined.room.code)
            if ended:
                await _destroy(media, [joined.room])
        raise MediaFailed() from exc
    return Entered(room=joined.room, participant=joined.participant, credentials=creds)


async def join(uow: UowFactory, media: MediaBackend, user_id: int, code: Any, *,
               at: datetime | None = None) -> Entered:
    async with uow() as unit:
        outcome = await service.do_join(unit, user_id, code, at=at)
    await _destroy(media, outcome.ended_elsewhere)
    return await _enter(uow, media, outcome.joined)


async def leave(uow: UowFactory, media: MediaBackend, user_id: int, code: Any) -> Room:
    async with uow() as unit:
        room, ended = await service.do_leave(unit, user_id, code)
    if ended:
        await _destroy(media, [room])
    else:
        await _best_effort(f"kick {room.code}", media.kick(room.code, str(user_id)))
    return room


async def end(uow: UowFactory, media: MediaBackend, actor_id: int, code: Any) -> Room:
    async with uow() as unit:
        room = await service.do_end(unit, actor_id, code)
    await _destroy(media, [room])
    return room


async def accept_speaker_invite(uow: UowFactory, media: MediaBackend, user_id: int, code: Any) -> Entered:
    async with uow() as unit:
        room, part = await service.do_accept_speaker_invite(unit, user_id, code)
    try:
        creds = await _credentials(media, room, part)
    except MediaError as exc:
        raise MediaFailed() from exc
    return Entered(room=room, participant=part, credentials=creds)


async def uninvite_speaker(uow: UowFactory, media: MediaBackend, actor_id: int, code: Any, user_id: int) -> Room:
    async with uow() as unit:
        room, demoted = await service.do_uninvite_speaker(unit, actor_id, code, user_id)
    if demoted:
        await _best_effort("set_publish", media.set_publish(room.code, str(user_id), False))
    return room


async def make_moderator(uow: UowFactory, media: MediaBackend, actor_id: int, code: Any, user_id: int) -> Room:
    async with uow() as unit:
        room, promoted = await service.do_make_moderator(unit, actor_id, code, user_id)
    if promoted:
        await _best_effort("set_publish", media.set_publish(room.code, str(user_id), True))
    return room


async def set_muted(uow: UowFactory, media: MediaBackend, actor_id: int, code: Any, user_id: int,
                    muted: bool) -> Room:
    async with uow() as unit:
        room = await service.do_set_muted(unit, actor_id, code, user_id, muted)
    await _best_effort("set_publish", media.set_publish(room.code, str(user_id), not muted))
    return room


async def remove(uow: UowFactory, media: MediaBackend, actor_id: int, code: Any, user_id: int, *,
                 block: bool) -> Room:
    async with uow() as unit:
        room = await service.do_remove(unit, actor_id, code, user_id, block=block)
    await _best_effort("kick", media.kick(room.code, str(user_id)))
    return room


async def expire(uow: UowFactory, media: MediaBackend, *, at: datetime | None = None) -> list[Room]:
    """The expiry job (the social app runs it every minute; a worker may call it too)."""
    async with uow() as unit:
        ended = await service.do_expire(unit, at=at)
    await _destroy(media, ended)
    return ended


ReadFactory = Callable[[], AbstractAsyncContextManager[Connection]]


def access_checks(read: ReadFactory) -> tuple[AccessCheck, AccessCheck]:
    """The media server's questions answered from room state, which every process shares
    (``MediaBackend.set_access``): who may be in a media room, and who may be heard there."""

    async def standing(room_code: str, user_id: str) -> Participant | None:
        if not str(user_id).isdigit():
            return None
        async with read() as conn:
            try:
                room = await service.get_room(conn, code=room_code)
            except DomainError:
                return None
            if room.ended_at is not None:
                return None
            part = await service.participant(conn, room.id, int(user_id))
        return part if part is not None and part.status in IN_ROOM else None

    async def may_join(room_code: str, user_id: str) -> bool:
        return await standing(room_code, user_id) is not None

    async def may_publish(room_code: str, user_id: str) -> bool:
        part = await standing(room_code, user_id)
        return part is not None and part.role != LISTENER and not part.muted

    return may_join, may_publish


def media_event_handler(uow: UowFactory) -> Callable[[Any], Any]:
    """A ``MediaBackend.on_event`` callback recording joins and leaves as presence."""

    async def handle(event: Any) -> None:
        if not str(event.user_id).isdigit():
            return
        async with uow() as unit:
            await service.do_media_event(unit, event.kind, event.room_id, int(event.user_id))

    return handle
