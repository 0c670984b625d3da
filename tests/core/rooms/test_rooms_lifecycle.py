"""Live rooms in the core: create, join, leave, end, the media calls around them, events.

The helpers here (``create``, ``join``...) are shared by the other test_rooms_* modules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.recorder import Recorder
from townhall.container import Container
from townhall.core.accounts.models import User
from townhall.core.clock import now
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.rooms import actions, scheduled
from townhall.core.rooms import events as ev
from townhall.core.rooms import service as rooms
from townhall.core.rooms.models import LEFT, LISTENER, MODERATOR, Participant, Room
from townhall.media.base import MediaError, MediaUnavailable
from townhall.media.null import NullMediaBackend

from ..communities.factories import make_club, make_users


async def create(container: Container, user: User, **fields: Any) -> actions.Entered:
    return await actions.create(container.uow, container.media, user.id, **fields)


async def join(container: Container, user: User, room: Room) -> actions.Entered:
    return await actions.join(container.uow, container.media, user.id, room.code)


async def current(container: Container, room: Room) -> Room:
    async with container.read() as conn:
        return await rooms.get_room(conn, room_id=room.id)


async def part(container: Container, room: Room, user: User) -> Participant | None:
    async with container.read() as conn:
        return await rooms.participant(conn, room.id, user.id)


async def roles(container: Container, room: Room) -> dict[int, str]:
    async with container.read() as conn:
        return {x.user_id: x.role for x in await rooms.participants(conn, room.id)}



class FailingMedia(NullMediaBackend):
    """A media server that refuses what it is told to refuse."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)
        self.destroyed: list[str] = []

    async def create_room(self, room_id: str) -> Any:
        if "create_room" in self.failing:
            raise MediaUnavailable("janus is down")
        return await super().create_room(room_id)

    async def credentials(self, room_id: str, user_id: str, *, can_publish: bool, allow_stream: bool = True) -> Any:
        if "credentials" in self.failing:
            raise MediaError("no credentials", 480)
        return await super().credentials(room_id, user_id, can_publish=can_publish)

    async def destroy_room(self, room_id: str) -> None:
        self.destroyed.append(room_id)
        await super().destroy_room(room_id)


async def test_creating_a_room_makes_its_media_room_and_the_creator_its_moderator(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    async with Recorder(container) as seen:
        made = await create(container, ada, topic="  Late   night  jazz ")
    room = made.room
    assert room.kind == "open" and room.topic == "Late night jazz" and room.is_live
    assert len(room.code) == rooms.CODE_LENGTH and room.media_backend == "null" and room.media_room == room.code
    assert made.participant.role == MODERATOR and len(made.participant.pubnub_token) >= 32
    assert made.credentials.can_publish is True and made.credentials.connection_url.startswith("null:")
    assert await container.media.participants(room.code) == []  # exists on the media server
    joined = seen.of(ev.UserJoined)
    assert [(e.topic, e.member.user_id, e.member.role) for e in joined] == [(f"room:{room.id}", ada.id, MODERATOR)]


async def test_listeners_join_without_publishing_and_joining_again_keeps_the_token(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    first = await join(container, bob, room)
    assert first.participant.role == LISTENER and first.credentials.can_publish is False
    again = await join(container, bob, room)
    assert again.participant.pubnub_token == first.participant.pubnub_token
    assert await roles(container, room) == {ada.id: MODERATOR, bob.id: LISTENER}


async def test_a_user_is_in_one_room_at_a_time(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    one = (await create(container, ada)).room
    two = (await create(container, bob)).room
    await join(container, cat, one)
    await join(container, cat, two)
    assert cat.id not in await roles(container, one) and cat.id in await roles(container, two)
    # the moderator of `one` starting another room leaves `one`, which then ends
    await create(container, ada, topic="elsewhere")
    assert not (await current(container, one)).is_live


async def test_the_room_ends_when_its_last_moderator_leaves(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    await join(container, cat, room)
    async with container.uow() as uow:
        await rooms.do_make_moderator(uow, ada.id, room.code, bob.id)
    await actions.leave(container.uow, container.media, ada.id, room.code)
    assert (await current(container, room)).is_live  # bob still moderates
    async with Recorder(container) as seen:
        await actions.leave(container.uow, container.media, bob.id, room.code)
    assert not (await current(container, room)).is_live
    assert [e.reason for e in seen.of(ev.RoomEnded)] == ["last_moderator_left"]
    assert (await part(container, room, cat)).status == LEFT  # type: ignore[union-attr]
    with pytest.raises(NotFound) as gone:
        await join(container, cat, room)
    assert gone.value.message.startswith("That room is no longer available")
    # leaving an ended room again is fine (clients retry)
    await actions.leave(container.uow, container.media, cat.id, room.code)


async def test_only_moderators_end_a_room_and_ending_twice_is_fine(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    with pytest.raises(Forbidden):
        await actions.end(container.uow, container.media, bob.id, room.code)
    async with Recorder(container) as seen:
        await actions.end(container.uow, container.media, ada.id, room.code)
        await actions.end(container.uow, container.media, ada.id, room.code)
    assert len(seen.of(ev.RoomEnded)) == 1
    with pytest.raises(Exception):  # noqa: B017 - the media room is gone too
        await container.media.participants(room.code)


async def test_a_media_server_that_is_down_leaves_no_room_behind(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    media = FailingMedia("create_room")
    with pytest.raises(actions.MediaFailed):
        await actions.create(container.uow, media, ada.id, topic="never")
    async with container.read() as conn:
        found, _ = await rooms.visible_rooms(conn, ada.id, limit=200, offset=0)
    assert "never" not in [r.topic for r in found]


async def test_a_join_without_credentials_is_undone(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    media = FailingMedia()
    room = (await actions.create(container.uow, media, ada.id)).room
    media.failing.add("credentials")
    with pytest.raises(actions.MediaFailed):
        await actions.join(container.uow, media, bob.id, room.code)
    assert (await part(container, room, bob)).status == LEFT  # type: ignore[union-attr]
    media.failing.clear()
    assert (await actions.join(container.uow, media, bob.id, room.code)).participant.role == LISTENER


@pytest.mark.parametrize("fields", [
    {"topic": 7}, {"topic": "t" * 256}, {"user_ids": "12"}, {"user_ids": [0]}, {"user_ids": [True]},
    {"user_ids": [2**62]},
])
async def test_bad_room_fields_are_refused(container: Container, fields: dict[str, Any]) -> None:
    (ada,) = await make_users(container, "ada")
    with pytest.raises(Invalid):
        await create(container, ada, **fields)


async def test_club_rooms_are_started_by_members_and_seen_by_members(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    club = await make_club(container, ada, members=[bob])
    with pytest.raises(Forbidden):
        await create(container, cat, club_id=club.id)
    room = (await create(container, bob, club_id=club.id, topic="members")).room
    assert room.kind == "club" and room.club_id == club.id
    with pytest.raises(NotFound):
        await join(container, cat, room)
    assert (await join(container, ada, room)).participant.role == LISTENER
    # a club admin in the room may moderate it
    async with container.uow() as uow:
        await rooms.do_change_handraise_settings(uow, ada.id, room.code, is_enabled=True, permission=3)
    assert (await current(container, room)).handraise_permission == 3


async def test_starting_a_scheduled_events_room_marks_the_event_started(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    async with container.uow() as uow:
        event = await scheduled.do_create_event(uow, ada.id, name="Morning chat",
                                                time_start=(now() + timedelta(minutes=10)).timestamp())
    with pytest.raises(Forbidden):
        await create(container, bob, event_id=event.id)
    room = (await create(container, ada, event_id=event.id)).room
    assert room.topic == "Morning chat" and room.event_id == event.id
    async with container.read() as conn:
        assert (await scheduled.get_events(conn, [event.id]))[event.id].channel == room.code
    with pytest.raises(Forbidden):
        await create(container, ada, event_id=event.id)


async def test_every_room_event_is_typed_and_rebuilt_from_json(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    async with Recorder(container) as seen:
        room = (await create(container, ada)).room
        await join(container, bob, room)
        await actions.end(container.uow, container.media, ada.id, room.code)
    assert seen.events
    for event in seen.events:
        if isinstance(event, ev.RoomEvent):
            assert type(event).from_json(event.to_json()) == event
            assert event.channel == room.code and event.type.startswith("room.")


async def test_an_events_room_belongs_to_the_events_club(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada)
    other = await make_club(container, bob)
    async with container.uow() as uow:
        event = await scheduled.do_create_event(uow, ada.id, name="Club chat", club_id=club.id, host_ids=[bob.id],
                                                time_start=(now() + timedelta(minutes=10)).timestamp())
    with pytest.raises(Invalid):
        await create(container, bob, event_id=event.id, club_id=other.id)
    room = (await create(container, bob, event_id=event.id)).room  # a host, not a member: fine
    assert room.club_id == club.id and room.kind == "open"


async def test_a_retried_create_gets_the_same_room(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    first = await create(container, ada, topic="retry me")
    again = await create(container, ada, topic="retry me")
    assert again.room.id == first.room.id and again.participant.role == MODERATOR
    other = await create(container, ada, topic="something else")
    assert other.room.id != first.room.id
    assert not (await current(container, first.room)).is_live  # she left it for the new one
