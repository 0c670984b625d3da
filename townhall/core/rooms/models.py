"""Live rooms as the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

OPEN, SOCIAL, PRIVATE, CLUB = "open", "social", "private", "club"
KINDS = (OPEN, SOCIAL, PRIVATE, CLUB)
# Voice rooms (the Community Voice Chat API): a community's voice chat, a private 1:1 voice chat.
COMMUNITY, VOICE_PRIVATE = "community", "voice_private"
VOICE_KINDS = (COMMUNITY, VOICE_PRIVATE)
MODERATOR, SPEAKER, LISTENER = "moderator", "speaker", "listener"
# participant status: JOINED, CONNECTED and INTERRUPTED are in the room; LEFT and REMOVED are not.
# JOINED: present while seen within the presence TTL (Clubhouse pings; voice: credentials issued,
# not connected yet); CONNECTED: the media server has them (voice rooms), present until it says
# otherwise; INTERRUPTED: media dropped, present for the grace period.
JOINED, CONNECTED, INTERRUPTED, LEFT, REMOVED = "joined", "connected", "interrupted", "left", "removed"
IN_ROOM = (JOINED, CONNECTED, INTERRUPTED)
# A voice participant's role in the community; owners and moderators moderate its voice chat.
OWNER, COMMUNITY_MODERATOR, MEMBER, NO_ROLE = "owner", "moderator", "member", "none"
COMMUNITY_ROLES = (OWNER, COMMUNITY_MODERATOR, MEMBER, NO_ROLE)
MODERATING_ROLES = (OWNER, COMMUNITY_MODERATOR)
# Rooms show people who joined townhall this recently as new (``is_new``).
NEW_USER_FOR = timedelta(days=7)
# handraise_permission
HANDS_EVERYONE, HANDS_FOLLOWED_BY_SPEAKERS, HANDS_CLUB_MEMBERS = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Room:
    id: int
    code: str
    kind: str
    topic: str | None
    club_id: int | None
    event_id: int | None
    creator_id: int
    is_handraise_enabled: bool
    handraise_permission: int
    media_backend: str
    media_room: str
    ended_at: datetime | None
    created_at: datetime
    external_id: str | None = None

    @property
    def is_voice(self) -> bool:
        return self.kind in VOICE_KINDS

    @property
    def is_live(self) -> bool:
        return self.ended_at is None

    @property
    def is_private(self) -> bool:
        return self.kind == PRIVATE

    @property
    def is_social_mode(self) -> bool:
        return self.kind == SOCIAL


@dataclass(frozen=True, slots=True)
class Participant:
    room_id: int
    user_id: int
    role: str
    status: str
    hand_raised: bool
    invited_to_speak: bool
    muted: bool
    pubnub_token: str
    joined_at: datetime
    speaker_since: datetime | None
    last_seen_at: datetime
    community_role: str | None = None
    profile: dict[str, Any] | None = None

    @property
    def in_room(self) -> bool:
        return self.status in IN_ROOM

    @property
    def is_speaker(self) -> bool:
        return self.role in (MODERATOR, SPEAKER)

    @property
    def is_moderator(self) -> bool:
        """A room moderator, or (voice rooms) an owner or moderator of the community, speaking or not."""
        return self.role == MODERATOR or self.community_role in MODERATING_ROLES


@dataclass(frozen=True, slots=True)
class Standing:
    """What one user is to one room: everything the permission rules decide from."""

    user_id: int
    participant: Participant | None = None
    is_invited: bool = False  # on the room's invite list (private rooms)
    is_blocked_from_room: bool = False
    is_blocked_by_creator: bool = False  # a user block between them and the room's creator
    is_club_member: bool = False
    is_club_admin: bool = False
    follows_creator: bool = False
    is_followed_by_speaker: bool = False

    @property
    def role(self) -> str | None:
        return self.participant.role if self.participant and self.participant.in_room else None


@dataclass(frozen=True, slots=True)
class Joined:
    """The outcome of a join: the room, the caller's participant row and whether it is new."""

    room: Room
    participant: Participant
    is_new: bool
