"""Who may do what in a room: the ONE place these rules live, decided from a ``Standing`` (room
role and community role). Every ``check_*`` raises a ``DomainError``; ``may_*`` answer.

- see a room: open rooms, everyone; social rooms, people who follow its creator; private rooms,
  its creator; club rooms, the club's members; and always its participants and invitees (a club
  room made public by make_channel_public is an open room);
- join: whoever may see it, unless blocked from the room or blocked by/blocking its creator;
- moderate (end, invite/uninvite speakers, mute, block, make moderator, settings, make public or
  social): the room's moderators; in a club room, the club's admins present in the room too;
- raise a hand: listeners in the room, when hands are enabled and the permission allows
  (1 everyone, 2 followed by a speaker, 3 club members);
- accept a speaker invitation: a listener who was invited.
"""

from __future__ import annotations

from townhall.core.errors import Forbidden, NotFound
from townhall.core.rooms.models import (
    CLUB,
    HANDS_CLUB_MEMBERS,
    HANDS_FOLLOWED_BY_SPEAKERS,
    LISTENER,
    MODERATOR,
    OPEN,
    PRIVATE,
    SOCIAL,
    Room,
    Standing,
)

GONE = "That room is no longer available 👋🏼\nTry starting a new one instead?"


def may_see(room: Room, s: Standing) -> bool:
    if s.participant is not None or s.is_invited or s.is_club_admin:
        return True
    if room.kind == OPEN:
        return True
    if room.kind == SOCIAL:
        return s.follows_creator or s.user_id == room.creator_id
    if room.kind == PRIVATE:
        return s.user_id == room.creator_id
    if room.kind == CLUB:
        return s.is_club_member
    return False


def check_live(room: Room) -> None:
    if not room.is_live:
        raise NotFound("room_ended", GONE)


def check_see(room: Room, s: Standing) -> None:
    if not may_see(room, s):
        raise NotFound("room_not_found", GONE)


def check_join(room: Room, s: Standing) -> None:
    check_live(room)
    if s.is_blocked_from_room or s.is_blocked_by_creator:
        raise Forbidden("blocked_from_room", "You can't join this room.")
    check_see(room, s)


def may_moderate(room: Room, s: Standing) -> bool:
    if s.role == MODERATOR:
        return True
    return room.kind == CLUB and s.is_club_admin and s.role is not None


def check_moderate(room: Room, s: Standing) -> None:
    check_live(room)
    if not may_moderate(room, s):
        raise Forbidden("not_moderator", "Only the room's moderators can do that.")


def check_in_room(room: Room, s: Standing) -> None:
    check_live(room)
    if s.role is None:
        raise Forbidden("not_in_room", "You are not in this room.")


def check_raise_hand(room: Room, s: Standing) -> None:
    check_in_room(room, s)
    if s.role != LISTENER:
        raise Forbidden("already_speaker", "You are already a speaker.")
    if not room.is_handraise_enabled:
        raise Forbidden("handraise_disabled", "Hand raising is turned off in this room.")
    if room.handraise_permission == HANDS_FOLLOWED_BY_SPEAKERS and not s.is_followed_by_speaker:
        raise Forbidden("handraise_not_allowed", "Only people followed by the speakers can raise their hand here.")
    if room.handraise_permission == HANDS_CLUB_MEMBERS and not s.is_club_member:
        raise Forbidden("handraise_not_allowed", "Only the club's members can raise their hand here.")


def check_target_in_room(target: Standing) -> None:
    if target.role is None:
        raise NotFound("user_not_in_room", "This user is not in the room.")


def check_accept_speaker_invite(room: Room, s: Standing) -> None:
    check_in_room(room, s)
    if s.role != LISTENER or s.participant is None or not s.participant.invited_to_speak:
        raise Forbidden("not_invited_to_speak", "You were not invited to speak.")


def check_may_invite_to_room(room: Room, s: Standing) -> None:
    """invite_to_existing_channel: moderators always; anyone in an open or club room."""
    check_in_room(room, s)
    if room.kind in (PRIVATE, SOCIAL) and not may_moderate(room, s):
        raise Forbidden("not_moderator", "Only the room's moderators can invite people to this room.")
