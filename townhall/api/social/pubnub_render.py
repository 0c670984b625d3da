"""Room events as the PubNub messages Clubhouse clients read (notes/clubhouse.md "Realtime").

Each room event becomes zero or more ``(pubnub channel, message)`` pairs; the message is a JSON
object with an ``action`` and that action's fields. The channel names are the wire's:
``channel_all.<code>``, ``channel_speakers.<code>``, ``channel_user.<code>.<uid>``, ``users.<uid>``.
"""

from __future__ import annotations

from typing import Any

from townhall.api.social.render_clubs import time_text
from townhall.core.events import Event
from townhall.core.rooms.events import (
    HandLowered,
    HandRaised,
    HandraiseSettingsChanged,
    Member,
    ModeratorMade,
    RemovedFromRoom,
    RoomEnded,
    RoomEvent,
    RoomInvite,
    SpeakerAdded,
    SpeakerInvited,
    SpeakerMuted,
    SpeakerRemoved,
    SpeakerUninvited,
    UserJoined,
    UserLeft,
)
from townhall.core.rooms.models import MODERATOR, SPEAKER

Message = tuple[str, dict[str, Any]]


def all_channel(code: str) -> str:
    return f"channel_all.{code}"


def speakers_channel(code: str) -> str:
    return f"channel_speakers.{code}"


def user_channel(code: str, user_id: int) -> str:
    return f"channel_user.{code}.{user_id}"


def users_channel(user_id: int) -> str:
    return f"users.{user_id}"


def user_profile(member: Member) -> dict[str, Any]:
    """A participant as room messages carry them (``user_profile``)."""
    return {"user_id": member.user_id, "name": member.name, "username": member.username,
            "photo_url": member.photo_url, "first_name": member.first_name, "skintone": member.skintone or 1,
            "is_speaker": member.role in (MODERATOR, SPEAKER), "is_moderator": member.role == MODERATOR,
            "is_invited_as_speaker": member.is_invited_as_speaker,
            "is_followed_by_speaker": member.is_followed_by_speaker, "is_new": member.is_new,
            "time_joined_as_speaker": time_text(member.speaker_since) if member.speaker_since else None}


def _action(event: RoomEvent, action: str, **fields: Any) -> dict[str, Any]:
    return {"action": action, "channel": event.channel, **fields}


def messages_of(event: Event) -> list[Message]:
    """The PubNub messages of ``event`` (none for events rooms' clients do not see)."""
    match event:
        case UserJoined():
            return [(all_channel(event.channel), _action(event, "join_channel", user_profile=user_profile(event.member)))]
        case UserLeft():
            return [(all_channel(event.channel), _action(event, "leave_channel", user_id=event.user_id))]
        case SpeakerAdded():
            return [(all_channel(event.channel), _action(event, "add_speaker", user_profile=user_profile(event.member)))]
        case SpeakerRemoved():
            return [(all_channel(event.channel), _action(event, "remove_speaker", user_id=event.user_id))]
        case ModeratorMade():
            return [(all_channel(event.channel), _action(event, "make_moderator", user_id=event.user_id))]
        case RoomEnded():
            return [(all_channel(event.channel), _action(event, "end_channel"))]
        case HandraiseSettingsChanged():
            return [(all_channel(event.channel), _action(event, "change_handraise_settings", is_enabled=event.is_enabled,
                                                         handraise_permission=event.handraise_permission))]
        case HandRaised():
            return [(speakers_channel(event.channel),
                     _action(event, "raise_hands", user_profile=user_profile(event.member)))]
        case HandLowered():
            return [(speakers_channel(event.channel), _action(event, "unraise_hands", user_id=event.user_id))]
        case SpeakerInvited():
            return [(user_channel(event.channel, event.user_id),
                     _action(event, "invite_speaker", from_user_id=event.actor_id, from_name=event.from_name))]
        case SpeakerUninvited():
            return [(user_channel(event.channel, event.user_id),
                     _action(event, "uninvite_speaker", from_user_id=event.actor_id))]
        case SpeakerMuted():
            return [(user_channel(event.channel, event.user_id),
                     _action(event, "mute_speaker", from_user_id=event.actor_id))]
        case RemovedFromRoom():
            return [(user_channel(event.channel, event.user_id),
                     _action(event, "remove_from_channel", from_user_id=event.actor_id, user_id=event.user_id,
                             is_blocked=event.blocked))]
        case RoomInvite():
            action = "invite_to_existing_channel" if event.existing else "invite_to_new_channel"
            return [(users_channel(event.user_id),
                     _action(event, action, channel_invite_id=event.channel_invite_id, from_user_id=event.actor_id,
                             from_name=event.from_name))]
    return []
