"""Live rooms as the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OPEN, SOCIAL, PRIVATE, CLUB = "open", "social", "private", "club"
KINDS = (OPEN, SOCIAL, PRIVATE, CLUB)
MODERATOR, SPEAKER, LISTENER = "moderator", "speaker", "listener"
# participant status: JOINED and INTERRUPTED are in the room (INTERRUPTED: media dropped, grace
# running); LEFT and REMOVED are not.
JOINED, INTERRUPTED, LEFT, REMOVED = "joined", "interrupted", "left", "removed"
IN_ROOM = (JOINED, INTERRUPTED)
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

    @property
    def in_room(self) -> bool:
        return self.status in IN_ROOM

    @property
    def is_speaker(self) -> bool:
        return self.role in (MODERATOR, SPEAKER)

    @property
    def is_moderator(self) -> bool:
        return self.role == MODERATOR


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
