"""Live audio rooms: create, join, leave, end, hands, speakers, moderators, blocks, invitations
and presence. The database side only: every ``do_*`` runs inside the caller's unit of work and
records events; media calls happen after commit (``townhall.core.rooms.actions``).

Rules (permissions are decided in ``permissions.py``; these are the state rules):
- a user is in at most one room: joining (or creating) one leaves the others;
- a participant is present while JOINED and seen (join, ``active_ping``, media join) within
  PRESENCE_TTL, or INTERRUPTED (media dropped) for less than that: the grace period; in voice rooms
  (``voice.py``) also while CONNECTED (the media server has them), however long: the expiry job asks
  the media server about connections not confirmed for PRESENCE_TTL, and a process starting to follow
  a room about all of its (``connected_to_confirm``), since a leave can go unreported;
- moderators are the room's MODERATORs and, in voice rooms, the community's owners and moderators
  (``Participant.is_moderator``, ``moderates()``);
- a room ends when a moderator leaves and no other moderator is present, when a moderator ends it,
  or when the expiry job finds no present moderator (everyone's grace period is over); a private
  voice chat ends when one of its two users leaves on purpose or is gone;
- a returning participant gets their role back, unless they were removed (then a listener); a
  user blocked from a room never comes back.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update

from townhall.core.accounts import profiles
from townhall.core.accounts.tables import users
from townhall.core.clock import now
from townhall.core.communities.service import access_club, relation
from townhall.core.communities.tables import community_members
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.events import user_topic
from townhall.core.fields import digits_id
from townhall.core.rooms import permissions as perm
from townhall.core.rooms import scheduled
from townhall.core.rooms.events import (
    HandLowered,
    HandRaised,
    HandraiseSettingsChanged,
    Member,
    ModeratorMade,
    RemovedFromRoom,
    RoomEnded,
    RoomInvite,
    SpeakerAdded,
    SpeakerInvited,
    SpeakerMuted,
    SpeakerRemoved,
    SpeakerUninvited,
    UserJoined,
    UserLeft,
    room_topic,
)
from townhall.core.rooms.models import (
    CLUB,
    CONNECTED,
    HANDS_CLUB_MEMBERS,
    HANDS_EVERYONE,
    IN_ROOM,
    INTERRUPTED,
    JOINED,
    LEFT,
    LISTENER,
    MODERATING_ROLES,
    MODERATOR,
    NEW_USER_FOR,
    OPEN,
    PRIVATE,
    REMOVED,
    SOCIAL,
    SPEAKER,
    VOICE_PRIVATE,
    Joined,
    Participant,
    Room,
    Standing,
)
from townhall.core.rooms.tables import room_blocks, room_hidden, room_invites, room_participants, rooms
from townhall.core.social import notifications
from townhall.core.social.graph import is_blocked_between
from townhall.core.social.tables import blocks, follows
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

PRESENCE_TTL = timedelta(minutes=5)  # not seen for this long: gone (also the moderators' grace)
MAX_TOPIC = 255
RETRY_WINDOW = timedelta(seconds=30)  # create_channel retried within this: the same room
MAX_INVITED = 50
CODE_LENGTH = 8
_CODE_ALPHABET = string.ascii_lowercase + string.digits
PENDING, ACCEPTED, REJECTED, CANCELLED = "pending", "accepted", "rejected", "cancelled"
p = room_participants


# -- checks


def check_code(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 32:
        raise Invalid("invalid_channel", "channel is required", field="channel")
    return value.strip()


def check_topic(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("invalid_topic", "topic must be a string", field="topic")
    topic = " ".join(value.split())
    if len(topic) > MAX_TOPIC:
        raise Invalid("invalid_topic", f"A room's topic is at most {MAX_TOPIC} characters.", field="topic")
    return topic or None


def check_user_ids(value: Any, name: str = "user_ids") -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise Invalid("invalid_user_ids", f"{name} must be a list of user ids", field=name)
    out: list[int] = []
    for item in value:
        if isinstance(item, str) and (number := digits_id(item.strip())) is not None:
            item = number
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**63:
            raise Invalid("invalid_user_ids", f"{name} must be a list of user ids", field=name)
        if item not in out:
            out.append(item)
    if len(out) > MAX_INVITED:
        raise Invalid("too_many_users", f"At most {MAX_INVITED} people can be invited at once.", field=name)
    return out


def check_handraise_permission(value: Any) -> int:
    if isinstance(value, str) and (number := digits_id(value.strip())) is not None:
        value = number
    if isinstance(value, bool) or value not in (1, 2, 3):
        raise Invalid("invalid_handraise_permission",
                      "handraise_permission must be 1 (everyone), 2 (followed by speakers) or 3 (club members)",
                      field="handraise_permission")
    return int(value)


# -- reads


def _room(r: Any) -> Room:
    return Room(id=r.id, code=r.code, kind=r.kind, topic=r.topic, club_id=r.club_id, event_id=r.event_id,
                creator_id=r.creator_id, is_handraise_enabled=r.is_handraise_enabled,
                handraise_permission=r.handraise_permission, media_backend=r.media_backend,
                media_room=r.media_room, ended_at=r.ended_at, created_at=r.created_at, external_id=r.external_id)


def _participant(r: Any) -> Participant:
    return Participant(room_id=r.room_id, user_id=r.user_id, role=r.role, status=r.status,
                       hand_raised=r.hand_raised, invited_to_speak=r.invited_to_speak, muted=r.muted,
                       pubnub_token=r.pubnub_token, joined_at=r.joined_at, speaker_since=r.speaker_since,
                       last_seen_at=r.last_seen_at, community_role=r.community_role, profile=r.profile)


async def get_room(conn: Connection, *, code: str | None = None, room_id: int | None = None) -> Room:
    if room_id is not None:
        row = (await conn.execute(select(rooms).where(rooms.c.id == room_id))).first()
    else:
        row = (await conn.execute(select(rooms).where(rooms.c.code == check_code(code)))).first()
    if row is None:
        raise NotFound("room_not_found", perm.GONE)
    return _room(row)


async def get_rooms(conn: Connection, ids: Iterable[int]) -> dict[int, Room]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {r.id: _room(r) for r in await conn.execute(select(rooms).where(rooms.c.id.in_(wanted)))}


async def participant(conn: Connection, room_id: int, user_id: int) -> Participant | None:
    row = (await conn.execute(select(p).where(p.c.room_id == room_id, p.c.user_id == user_id))).first()
    return _participant(row) if row else None


async def participants(conn: Connection, room_id: int) -> list[Participant]:
    """Who is in the room: moderators, then speakers, then listeners, each by arrival."""
    return (await participants_of(conn, [room_id]))[room_id]


async def participants_of(conn: Connection, room_ids: Iterable[int]) -> dict[int, list[Participant]]:
    """``participants`` of each room, in one query."""
    ids = list(set(room_ids))
    out: dict[int, list[Participant]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = (await conn.execute(select(p).where(p.c.room_id.in_(ids), p.c.status.in_(IN_ROOM))
                               .order_by(p.c.joined_at, p.c.user_id))).all()
    for row in rows:
        out[row.room_id].append(_participant(row))
    order = {MODERATOR: 0, SPEAKER: 1, LISTENER: 2}
    return {i: sorted(parts, key=lambda x: order.get(x.role, 3)) for i, parts in out.items()}


async def followed_by_speakers(conn: Connection, room_id: int, user_ids: Iterable[int]) -> set[int]:
    """Which of ``user_ids`` a speaker or moderator of the room follows."""
    return (await followed_by_speakers_of(conn, [room_id], user_ids)).get(room_id, set())


async def followed_by_speakers_of(conn: Connection, room_ids: Iterable[int],
                                  user_ids: Iterable[int]) -> dict[int, set[int]]:
    """``followed_by_speakers`` for each room, in one query."""
    rooms_wanted, wanted = list(set(room_ids)), list(set(user_ids))
    out: dict[int, set[int]] = {i: set() for i in rooms_wanted}
    if not rooms_wanted or not wanted:
        return out
    rows = await conn.execute(
        select(p.c.room_id, follows.c.followee_id).distinct()
        .join(follows, follows.c.follower_id == p.c.user_id)
        .where(p.c.room_id.in_(rooms_wanted), p.c.status.in_(IN_ROOM), p.c.role.in_((MODERATOR, SPEAKER)),
               follows.c.followee_id.in_(wanted)))
    for room_id, followee_id in rows:
        out[room_id].add(followee_id)
    return out


async def standing(conn: Connection, room: Room, user_id: int) -> Standing:
    part = await participant(conn, room.id, user_id)
    invited = (await conn.execute(select(room_invites.c.id).where(
        room_invites.c.room_id == room.id, room_invites.c.user_id == user_id,
        room_invites.c.status.in_((PENDING, ACCEPTED))))).first() is not None
    blocked = (await conn.execute(select(room_blocks.c.user_id).where(
        room_blocks.c.room_id == room.id, room_blocks.c.user_id == user_id))).first() is not None
    by_creator = user_id != room.creator_id and await is_blocked_between(conn, user_id, room.creator_id)
    member = admin = False
    if room.club_id is not None:
        rel = await relation(conn, room.club_id, user_id)
        member, admin = rel.is_member, rel.is_admin
    follows_creator = (await conn.execute(select(follows.c.follower_id).where(
        follows.c.follower_id == user_id, follows.c.followee_id == room.creator_id))).first() is not None
    followed = user_id in await followed_by_speakers(conn, room.id, [user_id])
    return Standing(user_id=user_id, participant=part, is_invited=invited, is_blocked_from_room=blocked,
                    is_blocked_by_creator=by_creator, is_club_member=member, is_club_admin=admin,
                    follows_creator=follows_creator, is_followed_by_speaker=followed)


async def access_room(conn: Connection, viewer_id: int, code: Any) -> tuple[Room, Standing]:
    """A live room the viewer may see, and their standing in it."""
    room = await get_room(conn, code=code)
    perm.check_live(room)
    s = await standing(conn, room, viewer_id)
    perm.check_see(room, s)
    return room, s


def _visible_to(viewer_id: int) -> Any:
    """SQL: live rooms a viewer may see (``permissions.may_see``, in SQL for lists)."""
    mine = select(p.c.room_id).where(p.c.user_id == viewer_id, p.c.status.in_(IN_ROOM))
    invited = select(room_invites.c.room_id).where(room_invites.c.user_id == viewer_id,
                                                   room_invites.c.status.in_((PENDING, ACCEPTED)))
    followed = select(follows.c.followee_id).where(follows.c.follower_id == viewer_id)
    clubs = select(community_members.c.community_id).where(community_members.c.user_id == viewer_id)
    return and_(
        rooms.c.ended_at.is_(None),
        or_(rooms.c.kind == OPEN, rooms.c.id.in_(mine), rooms.c.id.in_(invited), rooms.c.creator_id == viewer_id,
            and_(rooms.c.kind == SOCIAL, rooms.c.creator_id.in_(followed)),
            and_(rooms.c.kind == CLUB, rooms.c.club_id.in_(clubs))),
        ~exists().where(room_blocks.c.room_id == rooms.c.id, room_blocks.c.user_id == viewer_id),
        ~exists().where(room_hidden.c.room_id == rooms.c.id, room_hidden.c.user_id == viewer_id),
        ~exists().where(or_(and_(blocks.c.blocker_id == viewer_id, blocks.c.blocked_id == rooms.c.creator_id),
                            and_(blocks.c.blocker_id == rooms.c.creator_id, blocks.c.blocked_id == viewer_id))),
    )


async def visible_rooms(conn: Connection, viewer_id: int, *, limit: int, offset: int,
                        followed_first: bool = False) -> tuple[list[Room], int]:
    """Live rooms the viewer may see, newest first (``followed_first``: rooms with people the
    viewer follows in them come first, by how many)."""
    where = _visible_to(viewer_id)
    count = (await conn.execute(select(func.count()).select_from(rooms).where(where))).scalar_one()
    order: list[Any] = []
    if followed_first:
        friends = (select(func.count()).select_from(p).where(
            p.c.room_id == rooms.c.id, p.c.status.in_(IN_ROOM),
            p.c.user_id.in_(select(follows.c.followee_id).where(follows.c.follower_id == viewer_id)))
            .correlate(rooms).scalar_subquery())
        order.append(friends.desc())
    rows = (await conn.execute(select(rooms).where(where).order_by(*order, rooms.c.id.desc())
                               .limit(limit).offset(offset))).all()
    return [_room(r) for r in rows], int(count)


async def rooms_of_users(conn: Connection, viewer_id: int, user_ids: Iterable[int]) -> dict[int, Room]:
    """The live room each user is in, among rooms the viewer may see."""
    wanted = list(set(user_ids))
    if not wanted:
        return {}
    rows = (await conn.execute(select(p.c.user_id, rooms).join(rooms, rooms.c.id == p.c.room_id).where(
        p.c.user_id.in_(wanted), p.c.status.in_(IN_ROOM), _visible_to(viewer_id)))).all()
    return {r.user_id: _room(r) for r in rows}


async def counts(conn: Connection, room_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """``{room_id: (everyone in it, speakers and moderators)}``."""
    if not room_ids:
        return {}
    rows = (await conn.execute(select(
        p.c.room_id, func.count(), func.count().filter(p.c.role.in_((MODERATOR, SPEAKER))),
    ).where(p.c.room_id.in_(list(room_ids)), p.c.status.in_(IN_ROOM)).group_by(p.c.room_id))).all()
    out = {i: (0, 0) for i in room_ids}
    out.update({r[0]: (int(r[1]), int(r[2] or 0)) for r in rows})
    return out


async def participant_by_pubnub_token(conn: Connection, token: str) -> Participant | None:
    """The participant a realtime (PubNub) auth key belongs to, while they are in a live room."""
    if not isinstance(token, str) or not token or len(token) > 64:
        return None
    row = (await conn.execute(select(p).join(rooms, rooms.c.id == p.c.room_id).where(
        p.c.pubnub_token == token, p.c.status.in_(IN_ROOM), rooms.c.ended_at.is_(None)))).first()
    return _participant(row) if row else None


async def live_rooms_of_clubs(conn: Connection, club_ids: Iterable[int]) -> dict[int, Room]:
    """The live room of each club (the newest when several): the voice surface's community room."""
    wanted = list(set(club_ids))
    if not wanted:
        return {}
    rows = (await conn.execute(select(rooms).where(rooms.c.club_id.in_(wanted), rooms.c.ended_at.is_(None))
                               .order_by(rooms.c.id))).all()
    return {r.club_id: _room(r) for r in rows}


async def presence(conn: Connection, room_ids: Sequence[int], *, at: datetime | None = None,
                   ) -> dict[int, tuple[int, int]]:
    """``{room_id: (present participants, present moderators)}`` (notes/voice.md: a room is active
    iff it has a present moderator)."""
    if not room_ids:
        return {}
    rows = (await conn.execute(select(
        p.c.room_id, func.count(), func.count().filter(moderates()),
    ).where(p.c.room_id.in_(list(room_ids)), _present(at or now())).group_by(p.c.room_id))).all()
    out = {i: (0, 0) for i in room_ids}
    out.update({r[0]: (int(r[1]), int(r[2] or 0)) for r in rows})
    return out


async def members(conn: Connection, room_id: int, ids: Iterable[int]) -> dict[int, Member]:
    """Participants as room events carry them (the ``user_profile`` of join_channel, add_speaker...)."""
    found = await profiles.get_profiles(conn, ids)
    rows = {r.user_id: r for r in (await conn.execute(
        select(p.c.user_id, p.c.role, p.c.invited_to_speak, p.c.speaker_since).where(
            p.c.room_id == room_id, p.c.user_id.in_(list(found))))).all()}
    followed = await followed_by_speakers(conn, room_id, list(found))
    stamp = now()
    out = {}
    for i, f in found.items():
        row = rows.get(i)
        out[i] = Member(user_id=i, name=f.name, username=f.username, photo_url=f.photo_url,
                        role=row.role if row else LISTENER, first_name=f.first_name, skintone=f.skintone,
                        is_new=stamp - f.created_at < NEW_USER_FOR,
                        is_invited_as_speaker=bool(row and row.invited_to_speak),
                        is_followed_by_speaker=i in followed, speaker_since=row.speaker_since if row else None)
    return out


async def _member(conn: Connection, room_id: int, user_id: int) -> Member:
    return (await members(conn, room_id, [user_id])).get(user_id) or Member(user_id=user_id)


async def suggested_speakers(conn: Connection, room: Room, *, limit: int = 20) -> list[int]:
    """Listeners with a raised hand first, then listeners followed by a speaker."""
    listeners = [x for x in await participants(conn, room.id) if x.role == LISTENER]
    followed = await followed_by_speakers(conn, room.id, [x.user_id for x in listeners])
    ranked = sorted(listeners, key=lambda x: (not x.hand_raised, x.user_id not in followed, x.joined_at))
    return [x.user_id for x in ranked if x.hand_raised or x.user_id in followed][:limit]


async def invite(conn: Connection, invite_id: int) -> Any:
    row = (await conn.execute(select(room_invites).where(room_invites.c.id == invite_id))).first()
    if row is None:
        raise NotFound("invite_not_found", "This invitation does not exist.")
    return row


# -- writes


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class RoomDraft:
    """A checked request to create a room; the media room is made before it is stored."""

    code: str
    kind: str
    topic: str | None
    creator_id: int
    club_id: int | None
    event_id: int | None
    invited: list[int] = field(default_factory=list)


async def check_create(conn: Connection, creator_id: int, *, topic: Any = None, is_private: bool = False,
                       is_social_mode: bool = False, club_id: int | None = None, event_id: int | None = None,
                       user_ids: Any = None) -> RoomDraft:
    """Validate a room to create: a club room is started by a member of the club; an event's room
    by one of its hosts (or an admin of its club), once."""
    topic = check_topic(topic)
    invited = [u for u in check_user_ids(user_ids) if u != creator_id]
    if invited:
        found = set((await conn.execute(select(users.c.id).where(
            users.c.id.in_(invited), users.c.deleted_at.is_(None)))).scalars())
        if missing := [u for u in invited if u not in found]:
            raise Invalid("users_not_found", "Some of these people do not exist.", user_ids=missing)
    if event_id is not None:
        event = await scheduled.access_event(conn, creator_id, event_id=event_id)
        if event.channel is not None:
            raise Forbidden("event_started", "This event's room has already started.")
        may_start = creator_id in event.host_ids
        if not may_start and event.club_id is not None:
            may_start = (await relation(conn, event.club_id, creator_id)).is_admin
        if not may_start:
            raise Forbidden("not_event_host", "Only the event's hosts can start its room.")
        if club_id is not None and club_id != event.club_id:
            raise Invalid("invalid_club_id", "This event's room belongs to the event's club.", field="club_id")
        club_id = event.club_id
        topic = topic or event.name
    if club_id is not None:
        await access_club(conn, club_id)
        hosting = event_id is not None  # an event's hosts start its room, members of its club or not
        if not hosting and not (await relation(conn, club_id, creator_id)).is_member:
            raise Forbidden("not_club_member", "Only the club's members can start its rooms.")
    kind = PRIVATE if is_private else SOCIAL if is_social_mode else CLUB if club_id is not None else OPEN
    if kind == CLUB and event_id is not None:
        event = await scheduled.access_event(conn, creator_id, event_id=event_id)
        kind = CLUB if event.is_member_only else OPEN
    return RoomDraft(code=new_code(), kind=kind, topic=topic, creator_id=creator_id, club_id=club_id,
                     event_id=event_id, invited=invited)


async def recent_duplicate(conn: Connection, draft: RoomDraft, *, at: datetime | None = None) -> Room | None:
    """A retried create_channel: the live room the same creator made with the same fields within
    RETRY_WINDOW, while they are still in it."""
    at = at or now()
    row = (await conn.execute(select(rooms).join(p, and_(p.c.room_id == rooms.c.id,
                                                         p.c.user_id == draft.creator_id)).where(
        rooms.c.creator_id == draft.creator_id, rooms.c.ended_at.is_(None), rooms.c.kind == draft.kind,
        rooms.c.created_at >= at - RETRY_WINDOW, p.c.status.in_(IN_ROOM),
        rooms.c.topic.is_(None) if draft.topic is None else rooms.c.topic == draft.topic,
        rooms.c.club_id.is_(None) if draft.club_id is None else rooms.c.club_id == draft.club_id,
        rooms.c.event_id.is_(None) if draft.event_id is None else rooms.c.event_id == draft.event_id,
    ).order_by(rooms.c.id.desc()).limit(1))).first()
    return _room(row) if row else None


async def do_create_room(uow: UnitOfWork, draft: RoomDraft, *, media_backend: str, media_room: str,
                         at: datetime | None = None) -> Joined:
    """Store the room (its media room exists already) with its creator as moderator."""
    at = at or now()
    if draft.event_id is not None:  # checked again in this unit: two starts race
        event = (await scheduled.get_events(uow.conn, [draft.event_id])).get(draft.event_id)
        if event is None or event.channel is not None:
            raise Forbidden("event_started", "This event's room has already started.")
    room_id = (await uow.conn.execute(insert(rooms).values(
        code=draft.code, kind=draft.kind, topic=draft.topic, club_id=draft.club_id, event_id=draft.event_id,
        creator_id=draft.creator_id, is_handraise_enabled=True, handraise_permission=HANDS_EVERYONE,
        media_backend=media_backend, media_room=media_room, created_at=at).returning(rooms.c.id))).scalar_one()
    room = await get_room(uow.conn, room_id=room_id)
    for user_id in draft.invited:
        await _invite(uow, room, user_id, draft.creator_id, at=at, existing=False, notify=True)
    if draft.event_id is not None:
        await scheduled.do_mark_started(uow, draft.event_id, draft.code)
    return await _enter(uow, room, draft.creator_id, MODERATOR, at)


async def do_leave_other_rooms(uow: UnitOfWork, user_id: int, keep_room_id: int, at: datetime) -> list[Room]:
    others = (await uow.conn.execute(select(p.c.room_id).join(rooms, rooms.c.id == p.c.room_id).where(
        p.c.user_id == user_id, p.c.status.in_(IN_ROOM), p.c.room_id != keep_room_id,
        rooms.c.ended_at.is_(None)))).scalars().all()
    ended: list[Room] = []
    for room_id in others:
        room = await get_room(uow.conn, room_id=room_id)
        if await _leave(uow, room, user_id, at=at, reason="left"):
            ended.append(room)
    return ended


async def _enter(uow: UnitOfWork, room: Room, user_id: int, role: str, at: datetime, *,
                 community_role: str | None = None, profile: dict[str, Any] | None = None) -> Joined:
    # ON CONFLICT DO NOTHING: a join retried concurrently finds the row the other one made
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, p).values(
        room_id=room.id, user_id=user_id, role=role, status=JOINED, hand_raised=False, invited_to_speak=False,
        muted=False, pubnub_token=_new_token(), joined_at=at,
        speaker_since=at if role != LISTENER else None, last_seen_at=at, community_role=community_role,
        profile=profile))
    part = await participant(uow.conn, room.id, user_id)
    assert part is not None
    uow.emit(UserJoined(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                        actor_id=user_id, member=await _member(uow.conn, room.id, user_id)))
    return Joined(room=room, participant=part, is_new=True)


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    joined: Joined
    ended_elsewhere: list[Room]  # rooms the join ended (the user was their last moderator)


async def do_join(uow: UnitOfWork, user_id: int, code: Any, *, at: datetime | None = None) -> JoinOutcome:
    """Join a room (idempotent: joining again refreshes presence and keeps the role)."""
    at = at or now()
    room = await get_room(uow.conn, code=code)
    s = await standing(uow.conn, room, user_id)
    perm.check_join(room, s)
    ended = await do_leave_other_rooms(uow, user_id, room.id, at)
    part = s.participant
    if part is None:
        role = MODERATOR if user_id == room.creator_id else LISTENER
        return JoinOutcome(await _enter(uow, room, user_id, role, at), ended)
    if part.in_room:
        await uow.conn.execute(update(p).where(p.c.room_id == room.id, p.c.user_id == user_id).values(
            status=JOINED, last_seen_at=at))
        fresh = await participant(uow.conn, room.id, user_id)
        assert fresh is not None
        return JoinOutcome(Joined(room=room, participant=fresh, is_new=False), ended)
    role = LISTENER if part.status == REMOVED else part.role
    if user_id == room.creator_id and part.status != REMOVED:
        role = MODERATOR
    await uow.conn.execute(update(p).where(p.c.room_id == room.id, p.c.user_id == user_id).values(
        role=role, status=JOINED, hand_raised=False, invited_to_speak=False, muted=False, joined_at=at,
        speaker_since=at if role != LISTENER else None, last_seen_at=at, pubnub_token=_new_token()))
    fresh = await participant(uow.conn, room.id, user_id)
    assert fresh is not None
    uow.emit(UserJoined(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                        actor_id=user_id, member=await _member(uow.conn, room.id, user_id)))
    return JoinOutcome(Joined(room=room, participant=fresh, is_new=True), ended)


def _present(at: datetime) -> Any:
    """SQL: the participant is present at ``at``: connected to the media server, or joined/interrupted
    and seen within PRESENCE_TTL."""
    return or_(p.c.status == CONNECTED,
               and_(p.c.status.in_((JOINED, INTERRUPTED)), p.c.last_seen_at >= at - PRESENCE_TTL))


def moderates() -> Any:
    """SQL: the participant moderates the room (``Participant.is_moderator``)."""
    return or_(p.c.role == MODERATOR, p.c.community_role.in_(MODERATING_ROLES))


async def _has_present_moderator(conn: Connection, room_id: int, at: datetime, *, besides: int | None = None) -> bool:
    where = [p.c.room_id == room_id, moderates(), _present(at)]
    if besides is not None:
        where.append(p.c.user_id != besides)
    return (await conn.execute(select(p.c.user_id).where(*where).limit(1))).first() is not None


async def _leave(uow: UnitOfWork, room: Room, user_id: int, *, at: datetime, reason: str,
                 status: str = LEFT) -> bool:
    """Take the user out of the room; end it when they were its last present moderator.
    True when the room ended."""
    part = await participant(uow.conn, room.id, user_id)
    if part is None or not part.in_room or not room.is_live:
        return False
    await uow.conn.execute(update(p).where(p.c.room_id == room.id, p.c.user_id == user_id).values(
        status=status, hand_raised=False, invited_to_speak=False))
    uow.emit(UserLeft(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                      actor_id=user_id, user_id=user_id, reason=reason))
    if part.is_moderator and not await _has_present_moderator(uow.conn, room.id, at, besides=user_id):
        await _end(uow, room, at=at, reason="last_moderator_left")
        return True
    return False


async def _end(uow: UnitOfWork, room: Room, *, at: datetime, reason: str, actor_id: int | None = None) -> None:
    await uow.conn.execute(update(rooms).where(rooms.c.id == room.id).values(ended_at=at))
    await uow.conn.execute(update(p).where(p.c.room_id == room.id, p.c.status.in_(IN_ROOM)).values(
        status=LEFT, hand_raised=False, invited_to_speak=False))
    await uow.conn.execute(update(room_invites).where(room_invites.c.room_id == room.id,
                                                      room_invites.c.status == PENDING).values(status=CANCELLED))
    uow.emit(RoomEnded(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                       actor_id=actor_id, reason=reason))


async def do_leave(uow: UnitOfWork, user_id: int, code: Any, *, at: datetime | None = None) -> tuple[Room, bool]:
    """Leave (idempotent: leaving a room one is not in, or that ended, is fine). (room, ended)."""
    room = await get_room(uow.conn, code=code)
    return room, await _leave(uow, room, user_id, at=at or now(), reason="left")


async def _moderating(uow: UnitOfWork, actor_id: int, code: Any) -> Room:
    room = await get_room(uow.conn, code=code)
    perm.check_moderate(room, await standing(uow.conn, room, actor_id))
    return room


async def _target(uow: UnitOfWork, room: Room, user_id: int) -> Participant:
    s = await standing(uow.conn, room, user_id)
    perm.check_target_in_room(s)
    assert s.participant is not None
    return s.participant


async def do_end(uow: UnitOfWork, actor_id: int, code: Any, *, at: datetime | None = None) -> Room:
    room = await get_room(uow.conn, code=code)
    if not room.is_live:  # a retried end_channel
        part = await participant(uow.conn, room.id, actor_id)
        if part is not None and part.role == MODERATOR:
            return room
    perm.check_moderate(room, await standing(uow.conn, room, actor_id))
    await _end(uow, room, at=at or now(), reason="ended", actor_id=actor_id)
    return room


def _set(room: Room, user_id: int) -> Any:
    return update(p).where(p.c.room_id == room.id, p.c.user_id == user_id)


async def do_raise_hand(uow: UnitOfWork, user_id: int, code: Any) -> Room:
    room = await get_room(uow.conn, code=code)
    s = await standing(uow.conn, room, user_id)
    perm.check_raise_hand(room, s)
    assert s.participant is not None
    if not s.participant.hand_raised:
        await uow.conn.execute(_set(room, user_id).values(hand_raised=True))
        uow.emit(HandRaised(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                            actor_id=user_id, member=await _member(uow.conn, room.id, user_id)))
    return room


async def do_lower_hand(uow: UnitOfWork, user_id: int, code: Any) -> Room:
    room = await get_room(uow.conn, code=code)
    s = await standing(uow.conn, room, user_id)
    perm.check_in_room(room, s)
    assert s.participant is not None
    if s.participant.hand_raised:
        await uow.conn.execute(_set(room, user_id).values(hand_raised=False))
        uow.emit(HandLowered(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                             actor_id=user_id, user_id=user_id))
    return room


async def do_change_handraise_settings(uow: UnitOfWork, actor_id: int, code: Any, *, is_enabled: bool,
                                       permission: Any) -> Room:
    room = await _moderating(uow, actor_id, code)
    level = check_handraise_permission(permission)
    if level == HANDS_CLUB_MEMBERS and room.club_id is None:
        raise Invalid("not_a_club_room", "Only a club's room can limit hands to its members.",
                      field="handraise_permission")
    await uow.conn.execute(update(rooms).where(rooms.c.id == room.id).values(
        is_handraise_enabled=is_enabled, handraise_permission=level))
    if not is_enabled:
        raised = (await uow.conn.execute(select(p.c.user_id).where(
            p.c.room_id == room.id, p.c.hand_raised.is_(True)))).scalars().all()
        await uow.conn.execute(update(p).where(p.c.room_id == room.id).values(hand_raised=False))
        for uid in raised:
            uow.emit(HandLowered(topic=room_topic(room.id), room_id=room.id, channel=room.code,
                                 club_id=room.club_id, actor_id=actor_id, user_id=uid))
    uow.emit(HandraiseSettingsChanged(topic=room_topic(room.id), room_id=room.id, channel=room.code,
                                      club_id=room.club_id, actor_id=actor_id, is_enabled=is_enabled,
                                      handraise_permission=level))
    return await get_room(uow.conn, room_id=room.id)


async def do_invite_speaker(uow: UnitOfWork, actor_id: int, code: Any, user_id: int) -> Room:
    room = await _moderating(uow, actor_id, code)
    target = await _target(uow, room, user_id)
    if target.role != LISTENER:
        raise Invalid("already_speaker", "This user is already a speaker.")
    if not target.invited_to_speak:
        await uow.conn.execute(_set(room, user_id).values(invited_to_speak=True))
        actor = (await profiles.get_profiles(uow.conn, [actor_id])).get(actor_id)
        uow.emit(SpeakerInvited(topic=user_topic(user_id), room_id=room.id, channel=room.code,
                                club_id=room.club_id, actor_id=actor_id, user_id=user_id,
                                from_name=actor.name if actor else None))
    return room


async def do_uninvite_speaker(uow: UnitOfWork, actor_id: int, code: Any, user_id: int) -> tuple[Room, bool]:
    """Withdraw a speaker invitation, or move a speaker back to the audience (a moderator moving
    themselves is fine; moving another moderator is not). (room, whether they lost the floor)."""
    room = await _moderating(uow, actor_id, code)
    target = await _target(uow, room, user_id)
    if target.role == MODERATOR and user_id != actor_id:
        raise Forbidden("target_is_moderator", "A moderator cannot be moved to the audience.")
    if target.role == LISTENER:
        if target.invited_to_speak:
            await uow.conn.execute(_set(room, user_id).values(invited_to_speak=False))
            uow.emit(SpeakerUninvited(topic=user_topic(user_id), room_id=room.id, channel=room.code,
                                      club_id=room.club_id, actor_id=actor_id, user_id=user_id))
        return room, False
    if target.role == MODERATOR and not await _has_present_moderator(uow.conn, room.id, now(), besides=user_id):
        raise Forbidden("last_moderator", "The room needs a moderator.")
    await uow.conn.execute(_set(room, user_id).values(role=LISTENER, speaker_since=None, muted=False))
    uow.emit(SpeakerRemoved(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                            actor_id=actor_id, user_id=user_id))
    uow.emit(SpeakerUninvited(topic=user_topic(user_id), room_id=room.id, channel=room.code, club_id=room.club_id,
                              actor_id=actor_id, user_id=user_id))
    return room, True


async def do_accept_speaker_invite(uow: UnitOfWork, user_id: int, code: Any,
                                   at: datetime | None = None) -> tuple[Room, Participant]:
    room = await get_room(uow.conn, code=code)
    s = await standing(uow.conn, room, user_id)
    if s.participant is not None and s.participant.in_room and s.participant.is_speaker and room.is_live:
        return room, s.participant  # a retried accept
    perm.check_accept_speaker_invite(room, s)
    await uow.conn.execute(_set(room, user_id).values(role=SPEAKER, speaker_since=at or now(), hand_raised=False,
                                                      invited_to_speak=False, muted=False))
    uow.emit(SpeakerAdded(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                          actor_id=user_id, member=await _member(uow.conn, room.id, user_id)))
    part = await participant(uow.conn, room.id, user_id)
    assert part is not None
    return room, part


async def do_reject_speaker_invite(uow: UnitOfWork, user_id: int, code: Any) -> Room:
    room = await get_room(uow.conn, code=code)
    part = await participant(uow.conn, room.id, user_id)
    if part is not None and part.invited_to_speak:
        await uow.conn.execute(_set(room, user_id).values(invited_to_speak=False))
    return room


async def do_make_moderator(uow: UnitOfWork, actor_id: int, code: Any, user_id: int,
                            at: datetime | None = None) -> tuple[Room, bool]:
    """(room, whether they gained the floor: a listener made moderator starts speaking)."""
    room = await _moderating(uow, actor_id, code)
    target = await _target(uow, room, user_id)
    if target.role == MODERATOR:
        return room, False
    await uow.conn.execute(_set(room, user_id).values(
        role=MODERATOR, invited_to_speak=False, hand_raised=False,
        speaker_since=target.speaker_since or at or now()))
    uow.emit(ModeratorMade(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                           actor_id=actor_id, user_id=user_id))
    return room, target.role == LISTENER


async def do_set_muted(uow: UnitOfWork, actor_id: int, code: Any, user_id: int, muted: bool) -> Room:
    """A moderator mutes a speaker (mute_speaker); a speaker mutes or unmutes themselves."""
    room = await get_room(uow.conn, code=code)
    if actor_id != user_id:
        perm.check_moderate(room, await standing(uow.conn, room, actor_id))
    else:
        perm.check_in_room(room, await standing(uow.conn, room, actor_id))
    target = await _target(uow, room, user_id)
    if not target.is_speaker:
        raise Invalid("not_a_speaker", "Only speakers can be muted.")
    if target.muted != muted:
        await uow.conn.execute(_set(room, user_id).values(muted=muted))
        if muted:
            uow.emit(SpeakerMuted(topic=user_topic(user_id), room_id=room.id, channel=room.code,
                                  club_id=room.club_id, actor_id=actor_id, user_id=user_id))
    return room


async def do_remove(uow: UnitOfWork, actor_id: int, code: Any, user_id: int, *, block: bool,
                    at: datetime | None = None) -> Room:
    """Remove someone from the room (``block``: for good). Not oneself, not the room's creator."""
    at = at or now()
    room = await _moderating(uow, actor_id, code)
    if user_id == actor_id:
        raise Invalid("cannot_remove_self", "You cannot remove yourself; leave the room instead.")
    if user_id == room.creator_id:
        raise Forbidden("target_is_creator", "The room's creator cannot be removed.")
    s = await standing(uow.conn, room, user_id)
    if block:
        if not s.is_blocked_from_room:
            await uow.conn.execute(insert_ignoring_conflicts(uow.conn, room_blocks).values(
                room_id=room.id, user_id=user_id, blocked_by_id=actor_id, created_at=at))
    else:
        perm.check_target_in_room(s)
    if s.role is not None:
        await _leave(uow, room, user_id, at=at, reason="blocked" if block else "removed", status=REMOVED)
        uow.emit(RemovedFromRoom(topic=user_topic(user_id), room_id=room.id, channel=room.code,
                                 club_id=room.club_id, actor_id=actor_id, user_id=user_id, blocked=block))
    return room


async def do_set_kind(uow: UnitOfWork, actor_id: int, code: Any, kind: str) -> Room:
    """make_channel_public / make_channel_social: a room only opens up (private → social → open)."""
    room = await _moderating(uow, actor_id, code)
    rank = {PRIVATE: 0, SOCIAL: 1, CLUB: 1, OPEN: 2}
    if rank[kind] < rank[room.kind]:
        raise Invalid("cannot_narrow_room", "A room cannot be made less open.")
    if kind != room.kind:
        await uow.conn.execute(update(rooms).where(rooms.c.id == room.id).values(kind=kind))
    return await get_room(uow.conn, room_id=room.id)


async def do_hide(uow: UnitOfWork, user_id: int, code: Any, hide: bool) -> Room:
    room = await get_room(uow.conn, code=code)
    if hide:
        await uow.conn.execute(insert_ignoring_conflicts(uow.conn, room_hidden).values(room_id=room.id,
                                                                                       user_id=user_id))
    else:
        await uow.conn.execute(delete(room_hidden).where(room_hidden.c.room_id == room.id,
                                                         room_hidden.c.user_id == user_id))
    return room


# -- invitations to rooms


async def _invite(uow: UnitOfWork, room: Room, user_id: int, actor_id: int, *, at: datetime, existing: bool,
                  notify: bool) -> int:
    row = (await uow.conn.execute(select(room_invites).where(
        room_invites.c.room_id == room.id, room_invites.c.user_id == user_id))).first()
    if row is not None:
        if row.status != PENDING:
            await uow.conn.execute(update(room_invites).where(room_invites.c.id == row.id).values(
                status=PENDING, invited_by_id=actor_id, created_at=at))
        invite_id = int(row.id)
    else:
        await uow.conn.execute(insert_ignoring_conflicts(uow.conn, room_invites).values(
            room_id=room.id, user_id=user_id, invited_by_id=actor_id, status=PENDING, created_at=at))
        invite_id = int((await uow.conn.execute(select(room_invites.c.id).where(
            room_invites.c.room_id == room.id, room_invites.c.user_id == user_id))).scalar_one())
    if notify:
        actor = (await profiles.get_profiles(uow.conn, [actor_id])).get(actor_id)
        name = actor.name if actor and actor.name else "Someone"
        await notifications.do_notify(uow, user_id=user_id, kind=notifications.INVITED_TO_ROOM, actor_id=actor_id,
                                      message=f"{name} invited you to join a room" +
                                              (f": {room.topic}" if room.topic else ""))
        uow.emit(RoomInvite(topic=user_topic(user_id), room_id=room.id, channel=room.code, club_id=room.club_id,
                            actor_id=actor_id, user_id=user_id, channel_invite_id=invite_id,
                            from_name=actor.name if actor else None, existing=existing))
    return invite_id


async def do_invite_to_room(uow: UnitOfWork, actor_id: int, code: Any, user_id: int, *, new: bool = False,
                            at: datetime | None = None) -> int:
    """invite_to_existing_channel / invite_to_new_channel: the channel_invite_id."""
    room = await get_room(uow.conn, code=code)
    s = await standing(uow.conn, room, actor_id)
    perm.check_may_invite_to_room(room, s)
    if user_id == actor_id:
        raise Invalid("cannot_invite_self", "You cannot invite yourself.")
    exists_ = (await uow.conn.execute(select(users.c.id).where(users.c.id == user_id,
                                                               users.c.deleted_at.is_(None)))).first()
    if exists_ is None:
        raise NotFound("user_not_found", "This user does not exist.")
    if await is_blocked_between(uow.conn, actor_id, user_id):
        raise Forbidden("blocked", "You cannot invite this user.")
    return await _invite(uow, room, user_id, actor_id, at=at or now(), existing=not new, notify=True)


async def do_answer_invite(uow: UnitOfWork, user_id: int, invite_id: int, *, accept: bool) -> Room:
    """The invitee accepts (then joins with join_channel) or rejects."""
    row = await invite(uow.conn, invite_id)
    if row.user_id != user_id:
        raise NotFound("invite_not_found", "This invitation does not exist.")
    room = await get_room(uow.conn, room_id=row.room_id)
    if accept:
        perm.check_live(room)
    if row.status == CANCELLED:
        raise Invalid("invite_cancelled", "This invitation was cancelled.")
    await uow.conn.execute(update(room_invites).where(room_invites.c.id == invite_id).values(
        status=ACCEPTED if accept else REJECTED))
    return room


async def do_cancel_invite(uow: UnitOfWork, actor_id: int, invite_id: int) -> Room:
    row = await invite(uow.conn, invite_id)
    if row.invited_by_id != actor_id:
        raise NotFound("invite_not_found", "This invitation does not exist.")
    await uow.conn.execute(update(room_invites).where(room_invites.c.id == invite_id).values(status=CANCELLED))
    return await get_room(uow.conn, room_id=row.room_id)


# -- presence


async def do_ping(uow: UnitOfWork, user_id: int, code: Any, *, at: datetime | None = None) -> bool:
    """``active_ping``: the user is still here. True when they should leave (the room ended, or
    they are not in it any more: removed, gone for too long)."""
    at = at or now()
    room = await get_room(uow.conn, code=code)
    part = await participant(uow.conn, room.id, user_id)
    if not room.is_live or part is None or not part.in_room:
        return True
    await uow.conn.execute(_set(room, user_id).values(status=JOINED, last_seen_at=at))
    return False


async def do_media_event(uow: UnitOfWork, kind: str, room_code: str, user_id: int, *, voluntary: bool = False,
                         at: datetime | None = None) -> list[Room]:
    """A join or leave the media server saw. Unknown rooms/users are ignored. The rooms it ended
    (their media rooms are to be destroyed after commit).

    Clubhouse rooms: joined → present now; left → interrupted (the grace period runs; the expiry
    job ends what does not come back). Voice rooms (notes/voice.md): joined → connected (and out of
    any other room; a private voice chat that no longer holds both its users ends instead); left on
    purpose → gone (a community room whose last present moderator that was ends; a private one
    ends); left any other way → interrupted."""
    at = at or now()
    row = (await uow.conn.execute(select(rooms).where(rooms.c.code == room_code))).first()
    if row is None or row.ended_at is not None:
        return []
    room = _room(row)
    part = await participant(uow.conn, row.id, user_id)
    if part is None or not part.in_room:
        return []
    if not room.is_voice:
        if kind == "joined":
            await uow.conn.execute(_set(room, user_id).values(status=JOINED, last_seen_at=at))
        elif kind == "left" and part.status == JOINED:
            await uow.conn.execute(_set(room, user_id).values(status=INTERRUPTED, last_seen_at=at))
        return []
    if kind == "joined":
        if room.kind == VOICE_PRIVATE and not await _holds_both(uow.conn, room, at):
            await _end(uow, room, at=at, reason="expired")
            return [room]
        ended = await do_leave_other_rooms(uow, user_id, room.id, at)
        await uow.conn.execute(_set(room, user_id).values(status=CONNECTED, last_seen_at=at))
        return ended
    if kind != "left":
        return []
    if voluntary and room.kind == VOICE_PRIVATE:
        await _leave(uow, room, user_id, at=at, reason="left")
        await _end(uow, room, at=at, reason="ended", actor_id=user_id)
        return [room]
    if voluntary:
        return [room] if await _leave(uow, room, user_id, at=at, reason="left") else []
    if part.status != INTERRUPTED:
        await uow.conn.execute(_set(room, user_id).values(status=INTERRUPTED, last_seen_at=at))
    return []


async def connected_to_confirm(conn: Connection, backend: str, *, code: str | None = None,
                               at: datetime | None = None) -> dict[str, list[int]]:
    """Participants recorded as CONNECTED to live rooms whose media room is on ``backend``, by room
    code, to be checked against the media server (``do_confirm_connected``): those of room ``code``
    (when a process starts following it), else those not confirmed for PRESENCE_TTL (a leave the
    media server reported to nobody: a restarted process, a restarted media server, a lost webhook)."""
    where = [rooms.c.ended_at.is_(None), rooms.c.media_backend == backend, p.c.status == CONNECTED]
    if code is not None:
        where.append(rooms.c.code == code)
    else:
        where.append(p.c.last_seen_at < (at or now()) - PRESENCE_TTL)
    found: dict[str, list[int]] = {}
    for room_code, user_id in (await conn.execute(select(rooms.c.code, p.c.user_id).join(
            rooms, rooms.c.id == p.c.room_id).where(*where).order_by(rooms.c.code, p.c.user_id))).all():
        found.setdefault(room_code, []).append(int(user_id))
    return found


async def do_confirm_connected(uow: UnitOfWork, code: str, user_ids: Sequence[int], present: set[int],
                               asked_at: datetime, *, at: datetime | None = None) -> list[Room]:
    """What the media server answered at ``asked_at`` about participants recorded as connected to room
    ``code``: one it has is confirmed (seen then); one it does not have lost their connection (a leave
    not on purpose: the grace period runs), unless their status changed since it was asked. The rooms
    it ended (their media rooms are to be destroyed)."""
    at = at or now()
    room = (await uow.conn.execute(select(rooms).where(rooms.c.code == code, rooms.c.ended_at.is_(None)))).first()
    if room is None:
        return []
    unchanged = [p.c.room_id == room.id, p.c.status == CONNECTED, p.c.last_seen_at <= asked_at]
    confirmed = [user_id for user_id in user_ids if user_id in present]
    if confirmed:
        await uow.conn.execute(update(p).where(*unchanged, p.c.user_id.in_(confirmed)).values(last_seen_at=asked_at))
    absent = [user_id for user_id in user_ids if user_id not in present]
    gone = list((await uow.conn.execute(select(p.c.user_id).where(*unchanged, p.c.user_id.in_(absent)))
                 ).scalars()) if absent else []
    ended: list[Room] = []
    for user_id in gone:
        ended += await do_media_event(uow, "left", code, int(user_id), voluntary=False, at=at)
    return ended


async def _holds_both(conn: Connection, room: Room, at: datetime) -> bool:
    """A private voice chat still holds its users: two or more, every one of them present."""
    total, present = (await conn.execute(select(func.count(), func.count().filter(_present(at))).where(
        p.c.room_id == room.id))).one()
    return int(total) >= 2 and int(present) == int(total)


async def do_expire(uow: UnitOfWork, *, at: datetime | None = None) -> list[Room]:
    """The expiry job: participants not seen for PRESENCE_TTL are gone; live rooms without a present
    moderator end, and private voice chats one of whose users is gone. The rooms it ended (their
    media rooms are to be destroyed)."""
    at = at or now()
    stale = (await uow.conn.execute(select(p.c.room_id, p.c.user_id).join(rooms, rooms.c.id == p.c.room_id).where(
        rooms.c.ended_at.is_(None), p.c.status.in_((JOINED, INTERRUPTED)),
        p.c.last_seen_at < at - PRESENCE_TTL))).all()
    live: dict[int, Room] = {}
    for room_id, user_id in stale:
        room = live.get(room_id) or await get_room(uow.conn, room_id=room_id)
        live[room_id] = room
        await uow.conn.execute(_set(room, user_id).values(status=LEFT, hand_raised=False, invited_to_speak=False))
        uow.emit(UserLeft(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                          user_id=user_id, reason="gone"))
    moderated = select(p.c.room_id).where(moderates(), _present(at))
    someone_gone = exists().where(p.c.room_id == rooms.c.id, p.c.status.not_in(IN_ROOM))
    orphans = (await uow.conn.execute(select(rooms).where(rooms.c.ended_at.is_(None), or_(
        and_(rooms.c.kind != VOICE_PRIVATE, rooms.c.id.not_in(moderated)),
        and_(rooms.c.kind == VOICE_PRIVATE, someone_gone))).order_by(rooms.c.id))).all()
    ended = []
    for row in orphans:
        room = _room(row)
        await _end(uow, room, at=at, reason="expired")
        ended.append(room)
    return ended
