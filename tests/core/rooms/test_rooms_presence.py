"""Presence: active_ping, media joins and leaves, the grace period, the expiry job."""

from __future__ import annotations

from datetime import timedelta

from townhall.container import Container
from townhall.core.clock import now
from townhall.core.rooms import actions
from townhall.core.rooms import events as ev
from townhall.core.rooms import service as rooms
from townhall.core.rooms.models import INTERRUPTED, JOINED, LEFT

from ..communities.factories import make_users
from .test_rooms_lifecycle import Recorder, create, current, join, part, roles

TTL = rooms.PRESENCE_TTL


async def test_pinging_keeps_a_participant_and_answers_should_leave_when_out(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    later = now() + TTL - timedelta(seconds=30)
    async with container.uow() as uow:
        assert await rooms.do_ping(uow, bob.id, room.code, at=later) is False
        assert await rooms.do_ping(uow, ada.id, room.code, at=later) is False
        assert await rooms.do_ping(uow, cat.id, room.code, at=later) is True  # never joined
    # past the first TTL, both pinged: nobody is gone
    await actions.expire(container.uow, container.media, at=now() + TTL + timedelta(seconds=30))
    assert set(await roles(container, room)) == {ada.id, bob.id}


async def test_a_listener_who_stops_pinging_is_gone(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    later = now() + TTL + timedelta(seconds=5)
    async with container.uow() as uow:
        await rooms.do_ping(uow, ada.id, room.code, at=later)
    async with Recorder(container) as seen:
        ended = await actions.expire(container.uow, container.media, at=later)
    assert room.code not in [r.code for r in ended]
    assert [(e.user_id, e.reason) for e in seen.of(ev.UserLeft) if e.room_id == room.id] == [(bob.id, "gone")]
    assert (await part(container, room, bob)).status == LEFT  # type: ignore[union-attr]
    async with container.uow() as uow:
        assert await rooms.do_ping(uow, bob.id, room.code, at=later) is True


async def test_a_dropped_moderator_has_a_grace_period_then_the_room_ends(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    # the media server saw ada's audio drop: interrupted, not gone
    async with container.uow() as uow:
        await rooms.do_media_event(uow, "left", room.code, ada.id)
    assert (await part(container, room, ada)).status == INTERRUPTED  # type: ignore[union-attr]
    soon = now() + timedelta(minutes=1)
    async with container.uow() as uow:
        await rooms.do_ping(uow, bob.id, room.code, at=soon)
    await actions.expire(container.uow, container.media, at=soon)
    assert (await current(container, room)).is_live  # within the grace period
    # she comes back: joined again
    async with container.uow() as uow:
        await rooms.do_media_event(uow, "joined", room.code, ada.id, at=soon)
    assert (await part(container, room, ada)).status == JOINED  # type: ignore[union-attr]
    # then drops for good: past the grace period the room ends
    gone = soon + TTL + timedelta(seconds=1)
    async with container.uow() as uow:
        await rooms.do_media_event(uow, "left", room.code, ada.id, at=soon)
        await rooms.do_ping(uow, bob.id, room.code, at=gone)
    async with Recorder(container) as seen:
        ended = await actions.expire(container.uow, container.media, at=gone)
    assert room.code in [r.code for r in ended]
    assert [e.reason for e in seen.of(ev.RoomEnded) if e.room_id == room.id] == ["expired"]
    assert not (await current(container, room)).is_live


async def test_media_events_for_unknown_rooms_or_users_are_ignored(container: Container) -> None:
    (ada,) = await make_users(container, "ada")
    room = (await create(container, ada)).room
    async with container.uow() as uow:
        await rooms.do_media_event(uow, "joined", "no-such-room", ada.id)
        await rooms.do_media_event(uow, "left", room.code, 2**40)
    handler = actions.media_event_handler(container.uow)
    from townhall.media.base import MediaEvent

    await handler(MediaEvent("left", room.code, "not-a-number"))
    await handler(MediaEvent("left", room.code, str(ada.id)))
    assert (await part(container, room, ada)).status == INTERRUPTED  # type: ignore[union-attr]


async def test_presence_counts_and_lookups_for_the_gateways(container: Container) -> None:
    from ..communities.factories import make_club

    ada, bob = await make_users(container, "ada", "bob")
    club = await make_club(container, ada, members=[bob])
    made = await create(container, ada, club_id=club.id)
    room = made.room
    await join(container, bob, room)
    async with container.read() as conn:
        assert (await rooms.presence(conn, [room.id]))[room.id] == (2, 1)
        assert (await rooms.presence(conn, [room.id], at=now() + TTL * 2))[room.id] == (0, 0)
        assert (await rooms.live_rooms_of_clubs(conn, [club.id]))[club.id].code == room.code
        found = await rooms.participant_by_pubnub_token(conn, made.participant.pubnub_token)
        assert found is not None and found.user_id == ada.id
        assert await rooms.participant_by_pubnub_token(conn, "nope") is None
    await actions.end(container.uow, container.media, ada.id, room.code)
    async with container.read() as conn:
        assert await rooms.participant_by_pubnub_token(conn, made.participant.pubnub_token) is None
        assert club.id not in await rooms.live_rooms_of_clubs(conn, [club.id])
