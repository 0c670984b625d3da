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

Voice rooms (the Community Voice Chat API, called by a trusted service): a caller acts with a
community role. For a community townhall knows, that is the user's role there (its creator: owner;
an admin: moderator; a member: member; else none) unless ``trust_caller`` (settings
``voice.trust_caller_roles``) says to take the role the caller sends, as the reference service does;
for other communities it is the role the caller sends. Owners and moderators moderate; where roles
are enforced (a known community, not trusting the caller), only they may start or end its voice
chat; elsewhere ``create`` by anyone else is a plain join and anyone may end it, as in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from townhall.core.errors import Forbidden, NotFound
from townhall.core.rooms.models import (
    CLUB,
    COMMUNITY_MODERATOR,
    HANDS_CLUB_MEMBERS,
    HANDS_FOLLOWED_BY_SPEAKERS,
    LISTENER,
    MEMBER,
    MODERATING_ROLES,
    MODERATOR,
    NO_ROLE,
    OPEN,
    OWNER,
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


# -- voice rooms


def community_role(*, is_creator: bool, is_admin: bool, is_member: bool) -> str:
    """What a user of a community townhall knows is to its voice chat."""
    return OWNER if is_creator else COMMUNITY_MODERATOR if is_admin else MEMBER if is_member else NO_ROLE


@dataclass(frozen=True, slots=True)
class VoiceStanding:
    """The community role a voice caller acts with, and whether townhall enforces it."""

    role: str
    enforced: bool  # the community is townhall's and the caller's word is not taken

    @property
    def moderates(self) -> bool:
        return self.role in MODERATING_ROLES


def voice_standing(caller_role: str | None, known_role: str | None, *, trust_caller: bool) -> VoiceStanding:
    """``known_role``: the user's role in a community townhall knows (None: not one of ours)."""
    if known_role is not None and not trust_caller:
        return VoiceStanding(role=known_role, enforced=True)
    return VoiceStanding(role=caller_role or NO_ROLE, enforced=False)


def may_speak_on_entry(s: VoiceStanding, *, creating: bool) -> bool:
    """Starting a voice chat (``create``) as an owner or moderator puts the caller on stage."""
    return creating and s.moderates


def check_enter_voice(*, is_blocked: bool) -> None:
    """Users blocked from the room, or banned, get no credentials."""
    if is_blocked:
        raise Forbidden("blocked_from_room", "This user cannot join this voice chat")


def check_start_voice(s: VoiceStanding) -> None:
    if s.enforced and not s.moderates:
        raise Forbidden("not_community_moderator",
                        "Only the community's owner and moderators can start its voice chat")


def check_end_voice(s: VoiceStanding) -> None:
    if s.enforced and not s.moderates:
        raise Forbidden("not_community_moderator",
                        "Only the community's owner and moderators can end its voice chat")
