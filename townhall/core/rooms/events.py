"""Room domain events: room-wide ones go to ``room:<id>``, personal ones to ``user:<id>``.

Each carries what a gateway needs without a database round trip. The docstrings name the
Clubhouse PubNub channel and ``action`` each maps to (notes/clubhouse.md): ``channel_all.<code>``,
``channel_speakers.<code>``, ``channel_user.<code>.<uid>`` and ``users.<uid>``. A Community Voice
Chat gateway reads the same events by ``room_id``/``club_id``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from townhall.core.events import Event


def room_topic(room_id: int) -> str:
    return f"room:{room_id}"


class Member(BaseModel):
    """A participant as rooms' listeners see them (PubNub ``user_profile``)."""

    user_id: int
    name: str | None = None
    username: str | None = None
    photo_url: str | None = None
    role: str = "listener"
    first_name: str | None = None
    skintone: int | None = None
    is_new: bool = False
    is_invited_as_speaker: bool = False
    is_followed_by_speaker: bool = False
    speaker_since: datetime | None = None


class RoomEvent(Event):
    room_id: int
    channel: str  # the room's public code
    club_id: int | None = None
    actor_id: int | None = None


class UserJoined(RoomEvent):
    """``channel_all.<channel>`` action ``join_channel {user_profile}``."""

    type = "room.join"
    member: Member


class UserLeft(RoomEvent):
    """``channel_all.<channel>`` action ``leave_channel {user_id}``. ``reason``: left | gone
    (presence expired) | removed | blocked."""

    type = "room.leave"
    user_id: int
    reason: str = "left"


class SpeakerAdded(RoomEvent):
    """``channel_all.<channel>`` action ``add_speaker {user_profile}``."""

    type = "room.add_speaker"
    member: Member


class SpeakerRemoved(RoomEvent):
    """``channel_all.<channel>`` action ``remove_speaker {user_id}``."""

    type = "room.remove_speaker"
    user_id: int


class ModeratorMade(RoomEvent):
    """``channel_all.<channel>`` action ``make_moderator {user_id}``."""

    type = "room.make_moderator"
    user_id: int


class HandRaised(RoomEvent):
    """``channel_speakers.<channel>`` action ``raise_hands {user_profile}``."""

    type = "room.raise_hands"
    member: Member


class HandLowered(RoomEvent):
    """``channel_speakers.<channel>`` action ``unraise_hands {user_id}``."""

    type = "room.unraise_hands"
    user_id: int


class SpeakerInvited(RoomEvent):
    """On ``user:<id>``: ``channel_user.<channel>.<user_id>`` action ``invite_speaker
    {channel, from_user_id, from_name}``."""

    type = "room.invite_speaker"
    user_id: int
    from_name: str | None = None


class SpeakerUninvited(RoomEvent):
    """On ``user:<id>``: ``channel_user.<channel>.<user_id>`` action ``uninvite_speaker``."""

    type = "room.uninvite_speaker"
    user_id: int


class SpeakerMuted(RoomEvent):
    """On ``user:<id>``: ``channel_user.<channel>.<user_id>`` action ``mute_speaker``."""

    type = "room.mute_speaker"
    user_id: int


class RemovedFromRoom(RoomEvent):
    """On ``user:<id>``: ``channel_user.<channel>.<user_id>`` action ``remove_from_channel``
    (``blocked``: block_from_channel, cannot come back)."""

    type = "room.remove_from_channel"
    user_id: int
    blocked: bool = False


class RoomEnded(RoomEvent):
    """``channel_all.<channel>`` action ``end_channel {channel}``. ``reason``: ended (by a
    moderator) | last_moderator_left | expired."""

    type = "room.end_channel"
    reason: str = "ended"


class HandraiseSettingsChanged(RoomEvent):
    """``channel_all.<channel>`` action ``change_handraise_settings {is_enabled,
    handraise_permission}``."""

    type = "room.change_handraise_settings"
    is_enabled: bool
    handraise_permission: int


class RoomInvite(RoomEvent):
    """On ``user:<id>``: ``users.<user_id>`` action ``invite_to_new_channel {channel_invite_id,
    from_user_id, from_name}`` (``existing``: invite_to_existing_channel)."""

    type = "room.invite"
    user_id: int
    channel_invite_id: int
    from_name: str | None = None
    existing: bool = False
