"""Voice rooms: community voice chats and private 1:1 voice chats (the Community Voice Chat API,
notes/voice.md) as rooms of the rooms core. The database side only; media calls happen after
commit (``townhall.core.rooms.actions``).

- a community voice chat is a live room of kind ``community`` named by the caller's community id
  (``external_id``; tied to the townhall community when townhall knows it): at most one live room
  per community id (a partial unique index);
- users are named by Ethereum address (an identity of kind ``eth``, lower-cased), created on first
  sight;
- a participant's wire status: ``not_connected`` (JOINED: credentials issued), ``connected``,
  ``connection_interrupted``, ``disconnected`` (LEFT or REMOVED); presence and the active rule
  (a present moderator) are the rooms core's (``service.presence``);
- speak requests, speaker state and mutes are the participant's ``hand_raised``, role and ``muted``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from townhall.core.accounts.tables import identities, users
from townhall.core.clock import now
from townhall.core.communities.service import relation
from townhall.core.communities.tables import communities
from townhall.core.errors import Conflict, Invalid, NotFound
from townhall.core.events import user_topic
from townhall.core.fields import digits_id
from townhall.core.rooms import permissions as perm
from townhall.core.rooms import service
from townhall.core.rooms.events import (
    HandLowered,
    HandRaised,
    RemovedFromRoom,
    SpeakerAdded,
    SpeakerMuted,
    SpeakerRemoved,
    room_topic,
)
from townhall.core.rooms.models import (
    COMMUNITY,
    CONNECTED,
    HANDS_EVERYONE,
    INTERRUPTED,
    JOINED,
    LISTENER,
    MODERATOR,
    REMOVED,
    SPEAKER,
    VOICE_PRIVATE,
    Participant,
    Room,
)
from townhall.core.rooms.tables import room_blocks, room_participants, rooms
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

ETH = "eth"  # the identity kind of an Ethereum address
ADDRESS = re.compile(r"^0x[a-fA-F0-9]{40}$")
MAX_EXTERNAL_ID = 255
MAX_NAME = 255
MAX_URL = 2048
p = room_participants

# wire statuses of a participant
NOT_CONNECTED, WIRE_CONNECTED, CONNECTION_INTERRUPTED, DISCONNECTED = (
    "not_connected", "connected", "connection_interrupted", "disconnected")


def wire_status(status: str) -> str:
    return {JOINED: NOT_CONNECTED, CONNECTED: WIRE_CONNECTED, INTERRUPTED: CONNECTION_INTERRUPTED}.get(
        status, DISCONNECTED)


# -- checks


def _no_nul(value: str, name: str) -> str:
    if "\x00" in value:
        raise Invalid(f"invalid_{name}", f"{name} contains a NUL character", field=name)
    return value


def check_address(value: Any, name: str = "user_address") -> str:
    """An Ethereum address (``0x`` and 40 hex digits), lower-cased."""
    if not isinstance(value, str) or not ADDRESS.match(value):
        raise Invalid(f"invalid_{name}", f"Invalid {name}: expected an Ethereum address", field=name)
    return value.lower()


def check_external_id(value: Any, name: str) -> str:
    """A community id or private room id as the caller names it: non-blank, at most 255 characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"invalid_{name}", f"The parameter {name} is required", field=name)
    if len(value) > MAX_EXTERNAL_ID:
        raise Invalid(f"invalid_{name}", f"{name} is longer than {MAX_EXTERNAL_ID} characters", field=name)
    return _no_nul(value, name)


def check_profile(value: Any) -> dict[str, Any] | None:
    """``profile_data``: ``{name, has_claimed_name, profile_picture_url}``, each optional."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid("invalid_profile_data", "profile_data must be an object", field="profile_data")
    out: dict[str, Any] = {}
    for key, limit in (("name", MAX_NAME), ("profile_picture_url", MAX_URL)):
        text = value.get(key)
        if text is None:
            continue
        if not isinstance(text, str) or len(text) > limit:
            raise Invalid("invalid_profile_data", f"profile_data.{key} must be a string of at most {limit} "
                                                  "characters", field=f"profile_data.{key}")
        out[key] = _no_nul(text, f"profile_data.{key}")
    claimed = value.get("has_claimed_name")
    if claimed is not None:
        if not isinstance(claimed, bool):
            raise Invalid("invalid_profile_data", "profile_data.has_claimed_name must be a boolean",
                          field="profile_data.has_claimed_name")
        out["has_claimed_name"] = claimed
    return out


# -- users by address


async def users_of_addresses(conn: Connection, addresses: Iterable[str]) -> dict[str, int]:
    """``{address: user id}`` of the addresses townhall has seen (lower-cased addresses; anything
    that is no address names nobody)."""
    wanted = list({a.lower() for a in addresses if ADDRESS.match(a)})
    if not wanted:
        return {}
    rows = await conn.execute(select(identities.c.value, identities.c.user_id).where(
        identities.c.kind == ETH, identities.c.value.in_(wanted)))
    return {value: user_id for value, user_id in rows}


async def addresses_of(conn: Connection, user_ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(user_ids))
    if not wanted:
        return {}
    rows = await conn.execute(select(identities.c.user_id, identities.c.value).where(
        identities.c.kind == ETH, identities.c.user_id.in_(wanted)))
    return {user_id: value for user_id, value in rows}


async def do_user_of_address(uow: UnitOfWork, address: str, *, profile: dict[str, Any] | None = None) -> int:
    """The user an address names, created on first sight; a profile's name and picture become the
    user's (what every surface shows)."""
    conn = uow.conn
    stamp = now()
    user_id = (await users_of_addresses(conn, [address])).get(address)
    if user_id is None:
        made = (await conn.execute(insert(users).values(
            role="user", invisible=False, banned=False, custom={}, created_at=stamp, updated_at=stamp,
        ).returning(users.c.id))).scalar_one()
        await conn.execute(insert_ignoring_conflicts(conn, identities).values(user_id=made, kind=ETH, value=address))
        user_id = (await users_of_addresses(conn, [address]))[address]
        if user_id != made:  # another request made this address's user first
            await conn.execute(users.delete().where(users.c.id == made))
    changes = {column: profile[key] for key, column in (("name", "name"), ("profile_picture_url", "image"))
               if profile and profile.get(key)}
    if changes:
        await conn.execute(update(users).where(users.c.id == user_id).values(**changes, updated_at=stamp))
    return user_id


# -- communities


async def known_community(conn: Connection, community_id: str) -> int | None:
    """The townhall community a voice caller's community id names, if it is one of ours."""
    if (number := digits_id(community_id)) is None:
        return None
    found = (await conn.execute(select(communities.c.id).where(communities.c.id == number))).first()
    return int(found[0]) if found else None


async def voice_standing(conn: Connection, club_id: int | None, user_id: int | None, caller_role: str | None, *,
                         trust_caller: bool) -> perm.VoiceStanding:
    known = None
    if club_id is not None:
        creator = (await conn.execute(select(communities.c.created_by_id).where(
            communities.c.id == club_id))).scalar_one_or_none()
        rel = await relation(conn, club_id, user_id) if user_id is not None else None
        known = perm.community_role(is_creator=user_id is not None and creator == user_id,
                                    is_admin=bool(rel and rel.is_admin), is_member=bool(rel and rel.is_member))
    return perm.voice_standing(caller_role, known, trust_caller=trust_caller)


# -- rooms by external id


async def live_room(conn: Connection, kind: str, external_id: str) -> Room | None:
    row = (await conn.execute(select(rooms).where(rooms.c.kind == kind, rooms.c.external_id == external_id,
                                                  rooms.c.ended_at.is_(None)))).first()
    return service._room(row) if row else None


async def _insert_room(uow: UnitOfWork, *, kind: str, external_id: str, code: str, creator_id: int,
                       club_id: int | None, media_backend: str, media_room: str, at: datetime) -> Room:
    """The live room of this kind and name: the one made now, or the one another request made first."""
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, rooms).values(
        code=code, kind=kind, topic=None, club_id=club_id, event_id=None, creator_id=creator_id,
        is_handraise_enabled=True, handraise_permission=HANDS_EVERYONE, media_backend=media_backend,
        media_room=media_room, created_at=at, external_id=external_id))
    room = await live_room(uow.conn, kind, external_id)
    assert room is not None
    return room


class RoomGone(Conflict):
    """The live room a request was checked against ended before it was written: retry it."""

    def __init__(self) -> None:
        super().__init__("voice_chat_gone", "The voice chat ended meanwhile; please try again")


@dataclass(frozen=True, slots=True)
class MediaRoomMade:
    """The media room made for a voice room before it is stored."""

    code: str
    backend: str
    media_room: str


# -- community voice chats: entering


@dataclass(frozen=True, slots=True)
class CommunityEntry:
    """A checked request for community voice chat credentials."""

    community_id: str
    address: str
    club_id: int | None
    creating: bool
    caller_role: str | None
    trust_caller: bool
    profile: dict[str, Any] | None
    room: Room | None  # the live room, None when one is to be made


async def check_enter_community(conn: Connection, community_id: Any, address: Any, *, creating: bool,
                                caller_role: str | None, profile: Any, trust_caller: bool) -> CommunityEntry:
    community_id = check_external_id(community_id, "community_id")
    address = check_address(address)
    checked = check_profile(profile)
    club_id = await known_community(conn, community_id)
    user_id = (await users_of_addresses(conn, [address])).get(address)
    if creating:
        perm.check_start_voice(await voice_standing(conn, club_id, user_id, caller_role, trust_caller=trust_caller))
    return CommunityEntry(community_id=community_id, address=address, club_id=club_id, creating=creating,
                          caller_role=caller_role, trust_caller=trust_caller, profile=checked,
                          room=await live_room(conn, COMMUNITY, community_id))


def _status_on_reentry(before: Participant) -> str:
    """Credentials asked for again (a page reload, a token refresh) leave a media connection as it
    is: someone connected stays connected (marking them not connected would let the room expire, or
    end, under a connected moderator); anyone else is not connected yet."""
    return CONNECTED if before.status == CONNECTED else JOINED


@dataclass(frozen=True, slots=True)
class VoiceEntered:
    room: Room
    participant: Participant
    is_new: bool  # the user was not in the room before (undo on a media failure)
    made_room: bool  # the room was stored by this request (else ``made``'s media room is not used)
    ended_elsewhere: list[Room]


async def do_enter_community(uow: UnitOfWork, entry: CommunityEntry, *, made: MediaRoomMade | None,
                             at: datetime | None = None) -> VoiceEntered:
    """Issue credentials: the user (made on first sight) enters the community's live room (made
    when there is none) as not connected yet, out of any other room. Owners and moderators
    moderate; ``create`` by one of them puts them on stage; a speaker coming back stays one."""
    at = at or now()
    conn = uow.conn
    user_id = await do_user_of_address(uow, entry.address, profile=entry.profile)
    s = await voice_standing(conn, entry.club_id, user_id, entry.caller_role, trust_caller=entry.trust_caller)
    if entry.creating:
        perm.check_start_voice(s)
    room = await live_room(conn, COMMUNITY, entry.community_id)
    made_room = False
    if room is None:
        if made is None:
            raise RoomGone()
        room = await _insert_room(uow, kind=COMMUNITY, external_id=entry.community_id, code=made.code,
                                  creator_id=user_id, club_id=entry.club_id, media_backend=made.backend,
                                  media_room=made.media_room, at=at)
        made_room = room.code == made.code
    blocked = (await conn.execute(select(room_blocks.c.user_id).where(
        room_blocks.c.room_id == room.id, room_blocks.c.user_id == user_id))).first()
    banned = (await conn.execute(select(users.c.banned).where(users.c.id == user_id))).scalar_one()
    perm.check_enter_voice(is_blocked=blocked is not None or bool(banned))
    ended = await service.do_leave_other_rooms(uow, user_id, room.id, at)
    before = await service.participant(conn, room.id, user_id)
    speaking = (perm.may_speak_on_entry(s, creating=entry.creating)
                or (before is not None and before.in_room and before.is_speaker))
    role = (MODERATOR if s.moderates else SPEAKER) if speaking else LISTENER
    if before is None:
        joined = await service._enter(uow, room, user_id, role, at, community_role=s.role, profile=entry.profile)
        return VoiceEntered(room, joined.participant, True, made_room, ended)
    await conn.execute(service._set(room, user_id).values(
        role=role, status=_status_on_reentry(before), last_seen_at=at, community_role=s.role, profile=entry.profile,
        speaker_since=(before.speaker_since if before.in_room and before.is_speaker else at) if speaking else None,
        **({} if before.in_room else {"joined_at": at, "hand_raised": False, "invited_to_speak": False,
                                      "muted": False})))
    part = await service.participant(conn, room.id, user_id)
    assert part is not None
    if not before.in_room:
        uow.emit(service.UserJoined(topic=room_topic(room.id), room_id=room.id, channel=room.code,
                                    club_id=room.club_id, actor_id=user_id,
                                    member=await service._member(conn, room.id, user_id)))
    return VoiceEntered(room, part, not before.in_room, made_room, ended)


# -- community voice chats: reads


@dataclass(frozen=True, slots=True)
class VoiceStatus:
    community_id: str
    active: bool
    participant_count: int
    moderator_count: int


async def community_statuses(conn: Connection, community_ids: Sequence[str], *,
                             at: datetime | None = None) -> list[VoiceStatus]:
    """The status of each community's voice chat, in the order asked (inactive ones report zeros:
    a chat is active iff it has a present moderator)."""
    wanted = [i for i in dict.fromkeys(community_ids) if len(i) <= MAX_EXTERNAL_ID and "\x00" not in i]
    found: dict[str, int] = {}
    if wanted:
        found = {r.external_id: r.id for r in await conn.execute(select(rooms.c.id, rooms.c.external_id).where(
            rooms.c.kind == COMMUNITY, rooms.c.external_id.in_(wanted), rooms.c.ended_at.is_(None)))}
    counts = await service.presence(conn, list(found.values()), at=at)
    out = []
    for community_id in community_ids:
        present, moderators = counts.get(found.get(community_id, -1), (0, 0))
        active = moderators > 0
        out.append(VoiceStatus(community_id, active, present if active else 0, moderators if active else 0))
    return out


async def active_community_chats(conn: Connection, *, limit: int | None = None, offset: int = 0,
                                 at: datetime | None = None) -> tuple[list[VoiceStatus], int]:
    """The active community voice chats (ones with a present moderator) by community id, a page of
    them (``limit`` None: all), and how many there are. Only present participants count, and only
    present moderators make a chat active (the reference's query, missing parentheses, counted
    any recently interrupted or issued row)."""
    at = at or now()
    present = service._present(at)
    moderators = func.count().filter(and_(present, service.moderates()))
    active = (select(rooms.c.external_id, func.count().filter(present).label("participants"),
                     moderators.label("moderators"))
              .select_from(rooms.join(p, p.c.room_id == rooms.c.id))
              .where(rooms.c.kind == COMMUNITY, rooms.c.ended_at.is_(None))
              .group_by(rooms.c.id, rooms.c.external_id).having(moderators > 0))
    total = (await conn.execute(select(func.count()).select_from(active.subquery()))).scalar_one()
    page = active.order_by(rooms.c.external_id).offset(offset)
    rows = (await conn.execute(page.limit(limit) if limit is not None else page)).all()
    return [VoiceStatus(r[0], True, int(r[1]), int(r[2])) for r in rows], int(total)


async def is_in_voice_chat(conn: Connection, address: str, kind: str, *, at: datetime | None = None) -> bool:
    """Whether the user is present in a live voice room of this kind (the reference's query for
    community chats, missing parentheses, answered yes when ANY row anywhere was recent)."""
    user_id = (await users_of_addresses(conn, [address.lower()])).get(address.lower())
    if user_id is None:
        return False
    found = (await conn.execute(select(p.c.room_id).join(rooms, rooms.c.id == p.c.room_id).where(
        p.c.user_id == user_id, rooms.c.kind == kind, rooms.c.ended_at.is_(None),
        service._present(at or now())).limit(1))).first()
    return found is not None


# -- community voice chats: moderation (the calling service decided who may)


async def _target(conn: Connection, community_id: Any, address: Any) -> tuple[Room, Participant]:
    community_id = check_external_id(community_id, "communityId")
    room = await live_room(conn, COMMUNITY, community_id)
    if room is None:
        raise NotFound("voice_chat_not_found", f"Community voice chat for community {community_id} not found")
    address = str(address).lower()
    user_id = (await users_of_addresses(conn, [address])).get(address)
    part = await service.participant(conn, room.id, user_id) if user_id is not None else None
    if part is None or not part.in_room:
        raise NotFound("user_not_in_voice_chat", f"User {address} is not in the community voice chat")
    return room, part


async def do_request_to_speak(uow: UnitOfWork, community_id: Any, address: Any) -> Room:
    room, part = await _target(uow.conn, community_id, address)
    if part.is_speaker:
        raise Invalid("already_speaker", "Only listeners can request to speak")
    if not part.hand_raised:
        await uow.conn.execute(service._set(room, part.user_id).values(hand_raised=True))
        uow.emit(HandRaised(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                            actor_id=part.user_id, member=await service._member(uow.conn, room.id, part.user_id)))
    return room


async def do_reject_speak_request(uow: UnitOfWork, community_id: Any, address: Any) -> Room:
    room, part = await _target(uow.conn, community_id, address)
    if part.hand_raised:
        await uow.conn.execute(service._set(room, part.user_id).values(hand_raised=False))
        uow.emit(HandLowered(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                             user_id=part.user_id))
    return room


async def do_set_speaker(uow: UnitOfWork, community_id: Any, address: Any, speaker: bool, *,
                         at: datetime | None = None) -> tuple[Room, Participant, bool]:
    """Promote to speaker (owners and moderators speak as the room's moderators) or move back to
    the audience. (room, participant, whether anything changed)."""
    room, part = await _target(uow.conn, community_id, address)
    if part.is_speaker == speaker:
        if part.hand_raised:
            await uow.conn.execute(service._set(room, part.user_id).values(hand_raised=False))
        return room, part, False
    if speaker:
        role = MODERATOR if part.is_moderator else SPEAKER
        await uow.conn.execute(service._set(room, part.user_id).values(
            role=role, speaker_since=at or now(), hand_raised=False, invited_to_speak=False, muted=False))
        uow.emit(SpeakerAdded(topic=room_topic(room.id), room_id=room.id, channel=room.code, club_id=room.club_id,
                              member=await service._member(uow.conn, room.id, part.user_id)))
    else:
        await uow.conn.execute(service._set(room, part.user_id).values(role=LISTENER, speaker_since=None,
                                                                       hand_raised=False))
        uow.emit(SpeakerRemoved(topic=room_topic(room.id), room_id=room.id, channel=room.code,
                                club_id=room.club_id, user_id=part.user_id))
    fresh = await service.participant(uow.conn, room.id, part.user_id)
    assert fresh is not None
    return room, fresh, True


async def do_set_muted(uow: UnitOfWork, community_id: Any, address: Any, muted: bool) -> tuple[Room, Participant]:
    room, part = await _target(uow.conn, community_id, address)
    if part.muted != muted:
        await uow.conn.execute(service._set(room, part.user_id).values(muted=muted))
        if muted:
            uow.emit(SpeakerMuted(topic=user_topic(part.user_id), room_id=room.id, channel=room.code,
                                  club_id=room.club_id, user_id=part.user_id))
    fresh = await service.participant(uow.conn, room.id, part.user_id)
    assert fresh is not None
    return room, fresh


async def do_kick(uow: UnitOfWork, community_id: Any, address: Any, *,
                  at: datetime | None = None) -> tuple[Room, int, bool]:
    """Take the user out (they may come back as a listener). (room, user id, whether the room ended:
    they were its last present moderator)."""
    room, part = await _target(uow.conn, community_id, address)
    ended = await service._leave(uow, room, part.user_id, at=at or now(), reason="removed", status=REMOVED)
    uow.emit(RemovedFromRoom(topic=user_topic(part.user_id), room_id=room.id, channel=room.code,
                             club_id=room.club_id, user_id=part.user_id))
    return room, part.user_id, ended


async def do_end_community(uow: UnitOfWork, community_id: Any, address: Any, *, trust_caller: bool,
                           at: datetime | None = None) -> Room | None:
    """End the community's voice chat for everyone (None: none was live; ending is idempotent)."""
    community_id = check_external_id(community_id, "communityId")
    if address is None or (isinstance(address, str) and not address):
        raise Invalid("user_address_required", "The property user_address is required", field="user_address")
    address = check_address(address)
    club_id = await known_community(uow.conn, community_id)
    user_id = (await users_of_addresses(uow.conn, [address])).get(address)
    perm.check_end_voice(await voice_standing(uow.conn, club_id, user_id, None, trust_caller=trust_caller))
    room = await live_room(uow.conn, COMMUNITY, community_id)
    if room is None:
        return None
    await service._end(uow, room, at=at or now(), reason="ended", actor_id=user_id)
    return room


# -- private voice chats


@dataclass(frozen=True, slots=True)
class PrivateDraft:
    room_id: str
    addresses: list[str]
    room: Room | None  # the live room of that id, if any


async def check_create_private(conn: Connection, room_id: Any, addresses: Any) -> PrivateDraft:
    room_id = check_external_id(room_id, "room_id")
    if not isinstance(addresses, list) or len(addresses) != 2:
        raise Invalid("invalid_user_addresses", "user_addresses must be two addresses", field="user_addresses")
    checked = [check_address(a, "user_addresses") for a in addresses]
    if checked[0] == checked[1]:
        raise Invalid("invalid_user_addresses", "user_addresses must be two different addresses",
                      field="user_addresses")
    room = await live_room(conn, VOICE_PRIVATE, room_id)
    if room is not None:
        await _check_same_pair(conn, room, checked)
    return PrivateDraft(room_id, checked, room)


async def _check_same_pair(conn: Connection, room: Room, addresses: list[str]) -> None:
    ids = await users_of_addresses(conn, addresses)
    members = set((await conn.execute(select(p.c.user_id).where(p.c.room_id == room.id))).scalars())
    if members != set(ids.values()) or len(ids) != len(addresses):
        raise Conflict("room_exists", f"Room {room.external_id} already exists")


async def do_create_private(uow: UnitOfWork, draft: PrivateDraft, *, made: MediaRoomMade | None,
                            at: datetime | None = None) -> tuple[Room, list[Participant], bool]:
    """Both users enter the private room as not connected yet (a room that exists already for the
    same two users issues them credentials again). (room, participants, whether it was made now)."""
    at = at or now()
    user_ids = [await do_user_of_address(uow, a) for a in draft.addresses]
    room = await live_room(uow.conn, VOICE_PRIVATE, draft.room_id)
    made_room = False
    if room is None:
        if made is None:
            raise RoomGone()
        room = await _insert_room(uow, kind=VOICE_PRIVATE, external_id=draft.room_id, code=made.code,
                                  creator_id=user_ids[0], club_id=None, media_backend=made.backend,
                                  media_room=made.media_room, at=at)
        made_room = room.code == made.code
    if not made_room:
        await _check_same_pair(uow.conn, room, draft.addresses)
    parts = []
    for user_id in user_ids:
        before = await service.participant(uow.conn, room.id, user_id)
        if before is None:
            parts.append((await service._enter(uow, room, user_id, SPEAKER, at)).participant)
            continue
        await uow.conn.execute(service._set(room, user_id).values(status=_status_on_reentry(before),
                                                                  last_seen_at=at))
        fresh = await service.participant(uow.conn, room.id, user_id)
        assert fresh is not None
        parts.append(fresh)
    return room, parts, made_room


async def do_end_private(uow: UnitOfWork, room_id: Any, address: Any, *,
                         at: datetime | None = None) -> tuple[Room, list[str]]:
    """End a private voice chat the user is or was in. (room, the addresses of its users)."""
    room_id = check_external_id(room_id, "id")
    address = check_address(address, "address")
    room = await live_room(uow.conn, VOICE_PRIVATE, room_id)
    user_id = (await users_of_addresses(uow.conn, [address])).get(address)
    members = [] if room is None else list((await uow.conn.execute(select(p.c.user_id).where(
        p.c.room_id == room.id).order_by(p.c.joined_at, p.c.user_id))).scalars())
    if room is None or user_id not in members:
        raise NotFound("room_not_found", f"Room {room_id} does not exist")
    await service._end(uow, room, at=at or now(), reason="ended", actor_id=user_id)
    found = await addresses_of(uow.conn, members)
    return room, [found[m] for m in members if m in found]

