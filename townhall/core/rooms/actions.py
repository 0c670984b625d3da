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
from townhall.core.fields import digits_id
from townhall.core.rooms import service, voice
from townhall.core.rooms.models import IN_ROOM, LISTENER, Joined, Participant, Room
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.media.base import (
    AccessCheck,
    JoinCredentials,
    MediaBackend,
    MediaError,
    MediaRoomNotFound,
    MediaUnavailable,
)

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
    """The participant's media credentials. A large room's one-way stream (Janus) is only for the
    listeners of Clubhouse rooms, whose clients ping: its listeners are never reported as connected
    (a voice room's presence) and cannot be kicked or promoted in place (a moderator's powers)."""
    return await media.credentials(room.code, str(part.user_id), can_publish=part.role != LISTENER and not part.muted,
                                allow_stream=not room.is_voice and not part.is_moderator)


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
    """The expiry job (the live runtime runs it every minute): then, connections not confirmed for
    PRESENCE_TTL are checked with ``media`` (``confirm_connected``). The rooms it ended."""
    async with uow() as unit:
        ended = await service.do_expire(unit, at=at)
    await _destroy(media, ended)
    try:
        return ended + await confirm_connected(uow, media, at=at)
    except MediaUnavailable:  # connections stay as recorded; the next run asks again
        log.warning("media server unreachable: connections not confirmed", exc_info=True)
        return ended


async def confirm_connected(uow: UowFactory, media: MediaBackend, *, code: str | None = None,
                            at: datetime | None = None) -> list[Room]:
    """Check participants recorded as connected against what ``media`` has
    (``service.connected_to_confirm``: all of room ``code``'s, else those not confirmed lately), so a
    leave nobody reported (a restart of townhall or of the media server, a lost webhook) does not
    keep anyone connected for ever: those the media server does not have lost their connection.
    Rooms on other backends are left to the processes that use them. The rooms it ended. Raises
    MediaUnavailable when the media server cannot be reached; other media errors skip the room."""
    async with uow() as unit:
        recorded = await service.connected_to_confirm(unit.conn, media.name, code=code, at=at)
    ended: list[Room] = []
    for room_code, user_ids in recorded.items():
        asked_at = now()  # statuses changed after this are newer than the answer
        try:
            present = {p.user_id for p in await media.participants(room_code)}
        except MediaRoomNotFound:
            present = set()
        except MediaUnavailable:
            raise
        except MediaError:
            log.warning("could not list a room's media participants", exc_info=True, extra={"room": room_code})
            continue
        async with uow() as unit:
            ended += await service.do_confirm_connected(
                unit, room_code, user_ids, {n for u in present if (n := digits_id(u)) is not None},
                asked_at, at=at)
    await _destroy(media, ended)
    return ended


ReadFactory = Callable[[], AbstractAsyncContextManager[Connection]]


def access_checks(read: ReadFactory) -> tuple[AccessCheck, AccessCheck]:
    """The media server's questions answered from room state, which every process shares
    (``MediaBackend.set_access``): who may be in a media room, and who may be heard there."""

    async def standing(room_code: str, user_id: str) -> Participant | None:
        if (number := digits_id(str(user_id))) is None:
            return None
        async with read() as conn:
            try:
                room = await service.get_room(conn, code=room_code)
            except DomainError:
                return None
            if room.ended_at is not None:
                return None
            part = await service.participant(conn, room.id, number)
        return part if part is not None and part.status in IN_ROOM else None

    async def may_join(room_code: str, user_id: str) -> bool:
        return await standing(room_code, user_id) is not None

    async def may_publish(room_code: str, user_id: str) -> bool:
        part = await standing(room_code, user_id)
        return part is not None and part.role != LISTENER and not part.muted

    return may_join, may_publish


def media_event_handler(uow: UowFactory, media: MediaBackend | None = None) -> Callable[[Any], Any]:
    """A ``MediaBackend.on_event`` callback recording joins and leaves as presence (with ``media``,
    the media rooms of the rooms an event ended are destroyed after commit)."""

    async def handle(event: Any) -> None:
        if (user_id := digits_id(str(event.user_id))) is None:
            return
        async with uow() as unit:
            ended = await service.do_media_event(unit, event.kind, event.room_id, user_id,
                                                 voluntary=bool(getattr(event, "voluntary", False)))
        if media is not None:
            await _destroy(media, ended)

    return handle


# -- voice rooms (the Community Voice Chat API)


async def _new_media_room(media: MediaBackend) -> voice.MediaRoomMade:
    code = service.new_code()
    try:
        made = await media.create_room(code)
    except MediaError as exc:
        raise MediaFailed() from exc
    return voice.MediaRoomMade(code=code, backend=made.backend, media_room=made.media_room)


async def enter_community(uow: UowFactory, media: MediaBackend, community_id: Any, address: Any, *,
                          creating: bool, caller_role: str | None, profile: Any, trust_caller: bool,
                          at: datetime | None = None) -> Entered:
    """Community voice chat credentials (``create`` or ``join``): the room and its media room are
    made when the community has no live chat; the media room made for a chat another request
    stored first is destroyed again."""
    async with uow() as unit:
        entry = await voice.check_enter_community(unit.conn, community_id, address, creating=creating,
                                                  caller_role=caller_role, profile=profile,
                                                  trust_caller=trust_caller)
    made = None if entry.room is not None else await _new_media_room(media)
    try:
        try:
            async with uow() as unit:
                outcome = await voice.do_enter_community(unit, entry, made=made, at=at)
        except voice.RoomGone:  # the chat ended between the check and now: make a new one
            made = await _new_media_room(media)
            async with uow() as unit:
                outcome = await voice.do_enter_community(unit, entry, made=made, at=at)
    except BaseException:
        if made is not None:
            await _best_effort(f"destroy_room {made.code}", media.destroy_room(made.code))
        raise
    if made is not None and not outcome.made_room:
        await _best_effort(f"destroy_room {made.code}", media.destroy_room(made.code))
    await _destroy(media, outcome.ended_elsewhere)
    return await _enter(uow, media, Joined(room=outcome.room, participant=outcome.participant,
                                           is_new=outcome.is_new))


async def request_to_speak(uow: UowFactory, community_id: Any, address: Any, raise_hand: bool) -> Room:
    async with uow() as unit:
        if raise_hand:
            return await voice.do_request_to_speak(unit, community_id, address)
        return await voice.do_reject_speak_request(unit, community_id, address)


async def set_speaker(uow: UowFactory, media: MediaBackend, community_id: Any, address: Any, speaker: bool) -> Room:
    async with uow() as unit:
        room, part, changed = await voice.do_set_speaker(unit, community_id, address, speaker)
    if changed:
        await _best_effort("set_publish", media.set_publish(room.code, str(part.user_id),
                                                            part.is_speaker and not part.muted))
    return room


async def set_voice_muted(uow: UowFactory, media: MediaBackend, community_id: Any, address: Any,
                          muted: bool) -> Room:
    async with uow() as unit:
        room, part = await voice.do_set_muted(unit, community_id, address, muted)
    if part.is_speaker:
        await _best_effort("set_publish", media.set_publish(room.code, str(part.user_id), not muted))
    return room


async def kick(uow: UowFactory, media: MediaBackend, community_id: Any, address: Any) -> Room:
    async with uow() as unit:
        room, user_id, ended = await voice.do_kick(unit, community_id, address)
    if ended:
        await _destroy(media, [room])
    else:
        await _best_effort("kick", media.kick(room.code, str(user_id)))
    return room


async def end_community(uow: UowFactory, media: MediaBackend, community_id: Any, address: Any, *,
                        trust_caller: bool) -> Room | None:
    async with uow() as unit:
        room = await voice.do_end_community(unit, community_id, address, trust_caller=trust_caller)
    if room is not None:
        await _destroy(media, [room])
    return room


async def create_private(uow: UowFactory, media: MediaBackend, room_id: Any, addresses: Any, *,
                         at: datetime | None = None) -> dict[str, JoinCredentials]:
    """A private voice chat's credentials, by address (both users may speak). If the media server
    cannot give them, a chat made now is ended again."""
    async with uow() as unit:
        draft = await voice.check_create_private(unit.conn, room_id, addresses)
    made = None if draft.room is not None else await _new_media_room(media)
    try:
        async with uow() as unit:
            room, parts, made_room = await voice.do_create_private(unit, draft, made=made, at=at)
    except BaseException:
        if made is not None:
            await _best_effort(f"destroy_room {made.code}", media.destroy_room(made.code))
        raise
    if made is not None and not made_room:
        await _best_effort(f"destroy_room {made.code}", media.destroy_room(made.code))
    try:
        creds = [await _credentials(media, room, part) for part in parts]
    except MediaError as exc:
        if made_room:
            async with uow() as unit:
                await voice.do_end_private(unit, draft.room_id, draft.addresses[0])
            await _destroy(media, [room])
        raise MediaFailed() from exc
    return dict(zip(draft.addresses, creds, strict=True))


async def end_private(uow: UowFactory, media: MediaBackend, room_id: Any, address: Any) -> list[str]:
    async with uow() as unit:
        room, addresses = await voice.do_end_private(unit, room_id, address)
    await _destroy(media, [room])
    return addresses
