"""The calls core: requests, connecting, the walk through the statuses as the parties really join and
leave the call's media room, cancellation, expiry and dial timeouts (with moved time), the media
server's access checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from townhall.container import Container
from townhall.core.calls import actions, service
from townhall.core.calls import events as ev
from townhall.core.calls.models import (
    CANCELED,
    COMPLETED,
    DIALING_EXPERT,
    DIALING_SEEKER,
    EXPERT_ANSWERED,
    EXPERT_UNAVAILABLE,
    PENDING,
    SEEKER_ANSWERED,
    SEEKER_UNAVAILABLE,
)
from townhall.core.clock import now
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.rooms.actions import MediaFailed
from townhall.media.base import MediaError, MediaEvent, MediaRoomNotFound, MediaUnavailable
from townhall.media.null import NullMediaBackend

from .factories import Recorder, call_now, dropped, joined, left, make_users, request, set_rate


async def test_a_request_freezes_the_experts_current_rate_and_waits_pending(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    await set_rate(container, bob, 10_000)
    call = await request(container, ann, bob, "  pitching   advice ")
    assert (call.status, call.seeker_id, call.expert_id, call.reason) == (PENDING, ann.id, bob.id, "pitching advice")
    assert call.hourly_rate_cents == 10_000 and call.canceled_by is None and call.duration is None
    assert timedelta(hours=71, minutes=59) < call.expires_at - call.created_at <= timedelta(hours=72)
    free = await request(container, bob, ann, expires_in=2)
    assert free.hourly_rate_cents == 0  # ann has no expert profile
    assert free.expires_at - free.created_at == timedelta(hours=2)


async def test_requests_are_refused_for_oneself_unknown_experts_and_bad_fields(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    with pytest.raises(Invalid, match="yourself"):
        await request(container, ann, ann)
    with pytest.raises(NotFound):
        await actions.request_call(container, ann.id, 2**40, "advice")
    for reason in ("", "   ", None, 7, "x" * 141):
        with pytest.raises(Invalid):
            await actions.request_call(container, ann.id, bob.id, reason)
    for hours in (0, 721, -1, "soon", True, 1.5):
        with pytest.raises(Invalid):
            await actions.request_call(container, ann.id, bob.id, "advice", hours)
    for expert in ("bob", 0, None, -3):
        with pytest.raises(Invalid):
            await actions.request_call(container, ann.id, expert, "advice")
    assert (await request(container, ann, bob, "x" * 140)).reason == "x" * 140


async def test_a_retried_request_with_the_same_idempotency_key_answers_the_first_call(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    first = await request(container, ann, bob, idempotency_key="k-1")
    assert (await request(container, ann, bob, idempotency_key="k-1")).id == first.id
    with pytest.raises(Conflict):
        await request(container, ann, bob, "another reason", idempotency_key="k-1")
    assert (await request(container, bob, ann, idempotency_key="k-1")).id != first.id  # keys are per seeker
    assert (await request(container, ann, bob)).id != (await request(container, ann, bob)).id
    with pytest.raises(Invalid):
        await request(container, ann, bob, idempotency_key="x" * 256)


async def test_only_the_expert_connects_and_only_a_pending_call(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    call = await request(container, ann, bob)
    with pytest.raises(Forbidden):
        await actions.connect(container, ann.id, call.id)
    with pytest.raises(NotFound):
        await actions.connect(container, cat.id, call.id)
    with pytest.raises(NotFound):
        await actions.connect(container, bob.id, 2**40)
    connected = await actions.connect(container, bob.id, call.id)
    assert connected.call.status == DIALING_SEEKER and connected.connection_url.startswith("null:")
    with pytest.raises(Conflict, match="Only a pending call"):
        await actions.connect(container, bob.id, call.id)
    expired = await request(container, ann, bob)
    with pytest.raises(Conflict, match="expired"):
        await actions.connect(container, bob.id, expired.id, at=expired.expires_at)


async def test_a_call_walks_every_status_as_the_parties_join_and_leave_and_is_billed(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    await set_rate(container, bob, 10_000)  # $100 an hour
    call = await request(container, ann, bob)
    start = now()
    async with Recorder(container) as seen:
        connected = await actions.connect(container, bob.id, call.id, at=start)
        assert await container.media.participants(call.room) == []  # the media room exists
        assert (await joined(container, call, ann, start + timedelta(seconds=5))).status == DIALING_EXPERT
        answered = await joined(container, call, bob, start + timedelta(seconds=9))
        assert answered.status == EXPERT_ANSWERED and answered.answered_at is not None
        done = await left(container, call, ann, start + timedelta(seconds=9 + 61))
    assert connected.call.connected_at == start
    assert (done.status, done.duration) == (COMPLETED, 61)
    record = await _billing(container, call.id)
    assert (record.payer_id, record.payee_id, record.hourly_rate_cents) == (ann.id, bob.id, 10_000)
    assert (record.billed_seconds, record.billed_minutes, record.amount_cents) == (61, 2, 333)
    with pytest.raises(MediaRoomNotFound):  # the room was destroyed
        await container.media.participants(call.room)

    walk = [e.status for e in seen.of(ev.CallStatusChanged) if e.user_id == ann.id]
    assert walk == [DIALING_SEEKER, SEEKER_ANSWERED, DIALING_EXPERT, EXPERT_ANSWERED, COMPLETED]
    assert {e.topic for e in seen.of(ev.CallStatusChanged)} == {f"user:{ann.id}", f"user:{bob.id}"}
    dials = seen.of(ev.CallDialed)
    assert [(d.topic, d.role, d.room) for d in dials] == [(f"user:{ann.id}", "seeker", call.room),
                                                          (f"user:{bob.id}", "expert", call.room)]
    assert all(d.connection_url.startswith("null:") for d in dials)


async def test_an_expert_waiting_in_the_room_is_answered_as_soon_as_the_seeker_joins(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    call = await request(container, ann, bob)
    await actions.connect(container, bob.id, call.id)
    waiting = await joined(container, call, bob)
    assert waiting.status == DIALING_SEEKER and waiting.expert_present
    async with Recorder(container) as seen:
        assert (await joined(container, call, ann)).status == EXPERT_ANSWERED
    assert seen.of(ev.CallDialed) == []  # the expert, already in, is not dialled
    assert [e.status for e in seen.of(ev.CallStatusChanged) if e.user_id == bob.id] == [SEEKER_ANSWERED,
                                                                                        EXPERT_ANSWERED]
    done = await left(container, call, bob)
    assert done.status == COMPLETED and done.duration is not None
    assert (await _billing(container, call.id)).amount_cents == 0  # a free call


async def test_repeated_or_foreign_media_events_change_nothing(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    call = await request(container, ann, bob)
    assert (await joined(container, call, ann)).status == PENDING  # not connected yet: nothing
    await actions.connect(container, bob.id, call.id)
    assert (await joined(container, call, cat)).status == DIALING_SEEKER  # not a party
    for room in ("call-x", "call-", "room-1", f"call-{2**40}"):
        await actions.on_media_event(container, MediaEvent("joined", room, str(ann.id)))
    await actions.on_media_event(container, MediaEvent("joined", call.room, "janus:123"))
    assert (await joined(container, call, ann)).status == DIALING_EXPERT
    assert (await joined(container, call, ann)).status == DIALING_EXPERT
    await joined(container, call, bob)
    done = await left(container, call, ann)
    assert (await left(container, call, bob)).status == COMPLETED  # the room's teardown: nothing more
    again = await left(container, call, ann)
    assert again.updated_at == done.updated_at and again.duration == done.duration
    async with container.read() as conn:
        assert (await service.billing_record(conn, call.id)) is not None


async def test_a_seeker_who_does_not_join_within_the_dial_timeout_is_unavailable(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    timeout = container.settings.experts.dial_timeout
    call = await request(container, ann, bob)
    start = now()
    await actions.connect(container, bob.id, call.id, at=start)
    assert call.id not in [c.id for c in await actions.tick(container, at=start + timedelta(seconds=timeout - 1))]
    assert (await call_now(container, call)).status == DIALING_SEEKER
    ended = await actions.tick(container, at=start + timedelta(seconds=timeout))
    assert call.id in [c.id for c in ended]
    over = await call_now(container, call)
    assert over.status == SEEKER_UNAVAILABLE and over.ended_at is not None
    with pytest.raises(MediaRoomNotFound):
        await container.media.participants(call.room)
    async with container.read() as conn:  # listed with the canceled calls, its status kept
        for user in (ann, bob):
            listed = await service.list_calls(conn, user.id, service.CANCELED_LIST, limit=10, offset=0)
            assert [(c.id, c.status, c.canceled_by) for c in listed] == [(call.id, SEEKER_UNAVAILABLE, None)]


async def test_an_expert_who_does_not_join_within_the_dial_timeout_is_unavailable(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    timeout = container.settings.experts.dial_timeout
    call = await request(container, ann, bob)
    start = now()
    await actions.connect(container, bob.id, call.id, at=start)
    answered_at = start + timedelta(seconds=timeout - 1)  # the seeker answered just in time
    assert (await joined(container, call, ann, answered_at)).status == DIALING_EXPERT
    await actions.tick(container, at=answered_at + timedelta(seconds=timeout - 1))
    assert (await call_now(container, call)).status == DIALING_EXPERT  # the expert's dial started later
    await actions.tick(container, at=answered_at + timedelta(seconds=timeout))
    assert (await call_now(container, call)).status == EXPERT_UNAVAILABLE


async def test_pending_requests_past_their_expiry_are_canceled_by_nobody(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    call = await request(container, ann, bob, expires_in=1)
    await actions.tick(container, at=call.expires_at - timedelta(seconds=1))
    assert (await call_now(container, call)).status == PENDING
    async with container.read() as conn:
        assert call.id in [c.id for c in await service.list_calls(conn, ann.id, service.REQUESTED, limit=100,
                                                                    offset=0)]
        later = call.expires_at
        assert call.id not in [c.id for c in await service.list_calls(conn, ann.id, service.REQUESTED, limit=100,
                                                                        offset=0, at=later)]
    await actions.tick(container, at=call.expires_at)
    over = await call_now(container, call)
    assert (over.status, over.canceled_by) == (CANCELED, None)
    async with container.read() as conn:
        assert call.id in [c.id for c in await service.list_calls(conn, bob.id, service.CANCELED_LIST, limit=100,
                                                                    offset=0)]


async def test_either_party_cancels_a_call_not_yet_answered(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    pending = await request(container, ann, bob)
    with pytest.raises(NotFound):
        await actions.cancel(container, cat.id, pending.id)
    canceled = await actions.cancel(container, bob.id, pending.id)
    assert (canceled.status, canceled.canceled_by) == (CANCELED, bob.id)
    with pytest.raises(Conflict):
        await actions.cancel(container, ann.id, pending.id)
    with pytest.raises(Conflict):
        await actions.connect(container, bob.id, pending.id)

    dialing = await request(container, ann, bob)
    await actions.connect(container, bob.id, dialing.id)
    assert (await actions.cancel(container, ann.id, dialing.id)).canceled_by == ann.id
    with pytest.raises(MediaRoomNotFound):
        await container.media.participants(dialing.room)

    live = await request(container, ann, bob)
    await actions.connect(container, bob.id, live.id)
    await joined(container, live, ann)
    await joined(container, live, bob)
    with pytest.raises(Conflict, match="in progress"):
        await actions.cancel(container, ann.id, live.id)


async def test_only_the_two_parties_may_be_in_a_call_room_and_only_while_it_is_live(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    may_join, may_publish = actions.access_checks(container.read)
    call = await request(container, ann, bob)
    assert not await may_join(call.room, str(ann.id))  # pending: no room yet
    await actions.connect(container, bob.id, call.id)
    for user in (ann, bob):
        assert await may_join(call.room, str(user.id)) and await may_publish(call.room, str(user.id))
    assert not await may_join(call.room, str(cat.id))
    assert not await may_join(call.room, "not-a-user")
    assert not await may_join("call-nope", str(ann.id))
    await joined(container, call, ann)
    await joined(container, call, bob)
    await left(container, call, bob)
    assert not await may_join(call.room, str(ann.id)) and not await may_publish(call.room, str(bob.id))


async def test_calls_are_listed_by_side_and_status_newest_first(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    first, second = await request(container, ann, bob), await request(container, ann, bob)
    done = await request(container, bob, ann)
    await actions.connect(container, ann.id, done.id)
    await joined(container, done, bob)
    await joined(container, done, ann)
    await left(container, done, ann)
    await actions.cancel(container, ann.id, first.id)

    async def ids(user_id: int, which: str, limit: int = 100, offset: int = 0) -> list[int]:
        async with container.read() as conn:
            return [c.id for c in await service.list_calls(conn, user_id, which, limit=limit, offset=offset)]

    assert await ids(ann.id, service.REQUESTED) == [second.id]
    assert await ids(bob.id, service.CALLBACK) == [second.id]
    assert await ids(ann.id, service.CALLBACK) == []
    assert await ids(ann.id, service.COMPLETED_LIST) == await ids(bob.id, service.COMPLETED_LIST) == [done.id]
    assert await ids(bob.id, service.CANCELED_LIST) == [first.id]
    more = [await request(container, ann, bob) for _ in range(3)]
    assert await ids(ann.id, service.REQUESTED, limit=2, offset=1) == [more[1].id, more[0].id]


async def _billing(container: Container, call_id: int) -> service.BillingRecord:
    async with container.read() as conn:
        record = await service.billing_record(conn, call_id)
    assert record is not None
    return record


class Runtime:
    """The container's database and settings with another media server."""

    def __init__(self, container: Container, media: NullMediaBackend) -> None:
        self.uow, self.read, self.settings, self.extras = container.uow, container.read, container.settings, {}
        self.media = media


class FailingMedia(NullMediaBackend):
    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    async def create_room(self, room_id: str) -> Any:
        if self.failing == "create_room":
            raise MediaUnavailable("janus is down")
        return await super().create_room(room_id)

    async def credentials(self, room_id: str, user_id: str, *, can_publish: bool, allow_stream: bool = True) -> Any:
        if self.failing == "credentials":
            raise MediaError("no credentials", 480)
        return await super().credentials(room_id, user_id, can_publish=can_publish)


async def test_a_media_server_that_fails_leaves_the_call_pending_and_no_room_behind(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    for failing in ("create_room", "credentials"):
        media = FailingMedia(failing)
        call = await request(container, ann, bob)
        with pytest.raises(MediaFailed):
            await actions.connect(Runtime(container, media), bob.id, call.id)
        assert (await call_now(container, call)).status == PENDING
        with pytest.raises(MediaRoomNotFound):
            await media.participants(call.room)


async def test_a_double_connect_answers_409_and_keeps_the_room_of_the_connect_that_won(
        container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    call = await request(container, ann, bob)

    class Racing(NullMediaBackend):
        raced = False

        async def credentials(self, room_id: str, user_id: str, *, can_publish: bool, allow_stream: bool = True) -> Any:
            if not self.raced:  # the other tap gets through while this one waits for the media server
                self.raced = True
                await actions.connect(runtime, bob.id, call.id)
            return await super().credentials(room_id, user_id, can_publish=can_publish)

    runtime = Runtime(container, Racing())
    with pytest.raises(Conflict):
        await actions.connect(runtime, bob.id, call.id)
    assert (await call_now(container, call)).status == DIALING_SEEKER
    assert await runtime.media.participants(call.room) == []  # still there


async def test_joins_and_leaves_the_events_missed_are_found_by_the_periodic_sweep(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")

    class Silent(NullMediaBackend):
        name = "silent"  # its events reach nobody (as after a restart): only the sweep learns of them

    runtime = Runtime(container, Silent())
    media = runtime.media
    call = await request(container, ann, bob)
    await actions.connect(runtime, bob.id, call.id)
    await media.simulate_join(call.room, str(ann.id))
    assert (await call_now(container, call)).status == DIALING_SEEKER
    await actions.tick(runtime)
    assert (await call_now(container, call)).status == DIALING_EXPERT
    await media.simulate_join(call.room, str(bob.id))
    await actions.tick(runtime)
    assert (await call_now(container, call)).status == EXPERT_ANSWERED
    assert call.room in await actions.live_rooms(runtime)
    await media.simulate_leave(call.room, str(ann.id))
    found_gone = now()
    await actions.tick(runtime, at=found_gone)
    away = await call_now(container, call)  # found gone: a drop, the reconnect grace runs
    assert (away.status, away.seeker_present, away.seeker_left_at) == (EXPERT_ANSWERED, False, found_gone)
    grace = container.settings.experts.reconnect_grace
    await actions.tick(runtime, at=found_gone + timedelta(seconds=grace))
    assert (await call_now(container, call)).status == COMPLETED
    with pytest.raises(MediaRoomNotFound):
        await media.participants(call.room)


# -- the reconnect grace: a party who drops out (not a hang-up) may come back


async def _ended(container: Container, at: Any) -> list[int]:
    """The ids of the calls the periodic job ends at ``at``."""
    return [c.id for c in await actions.tick(container, at=at)]


async def _answered(container: Container, ann: Any, bob: Any) -> tuple[Any, Any]:
    """A call from ann to bob ($60 an hour), answered at the moment answered (both joined)."""
    await set_rate(container, bob, 6_000)
    call = await request(container, ann, bob)
    start = now()
    await actions.connect(container, bob.id, call.id, at=start)
    await joined(container, call, ann, start + timedelta(seconds=1))
    answered = await joined(container, call, bob, start + timedelta(seconds=2))
    assert answered.status == EXPERT_ANSWERED
    return call, answered.answered_at


async def test_a_party_who_drops_out_and_rejoins_within_the_grace_keeps_the_call_going(
        container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    grace = container.settings.experts.reconnect_grace
    may_join, _ = actions.access_checks(container.read)
    call, t0 = await _answered(container, ann, bob)
    async with Recorder(container) as seen:
        away = await dropped(container, call, ann, t0 + timedelta(seconds=30))
        assert (away.status, away.seeker_present, away.seeker_left_at) == (EXPERT_ANSWERED, False,
                                                                           t0 + timedelta(seconds=30))
        assert await may_join(call.room, str(ann.id))  # the room is still theirs
        assert await container.media.participants(call.room) == []  # and still there
        assert call.id not in await _ended(container, t0 + timedelta(seconds=30 + grace - 1))
        back = await joined(container, call, ann, t0 + timedelta(seconds=30 + grace - 1))
        assert (back.status, back.seeker_present, back.seeker_left_at) == (EXPERT_ANSWERED, True, None)
        assert call.id not in await _ended(container, t0 + timedelta(seconds=30 + 2 * grace))
        done = await left(container, call, bob, t0 + timedelta(seconds=30 + grace - 1 + 40))
    assert (done.status, done.duration) == (COMPLETED, 70)  # 30 s, then 40 s together: not the time apart
    assert [e.status for e in seen.of(ev.CallStatusChanged) if e.user_id == ann.id and e.call_id == call.id] == [
        COMPLETED]  # a drop and a rejoin change no status
    record = await _billing(container, call.id)
    assert (record.billed_seconds, record.billed_minutes, record.amount_cents) == (70, 2, 200)


async def test_a_party_not_back_within_the_grace_completes_the_call_as_of_the_drop(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    grace = container.settings.experts.reconnect_grace
    call, t0 = await _answered(container, ann, bob)
    gone = t0 + timedelta(seconds=61)
    assert (await dropped(container, call, bob, gone)).status == EXPERT_ANSWERED
    assert call.id not in await _ended(container, gone + timedelta(seconds=grace - 1))
    async with Recorder(container) as seen:
        assert call.id in await _ended(container, gone + timedelta(seconds=grace))
    over = await call_now(container, call)
    assert (over.status, over.duration, over.ended_at) == (COMPLETED, 61, gone)
    assert [(e.status, e.user_id) for e in seen.of(ev.CallStatusChanged) if e.call_id == call.id] == [
        (COMPLETED, ann.id), (COMPLETED, bob.id)]  # told to each party
    record = await _billing(container, call.id)
    assert (record.billed_seconds, record.billed_minutes, record.amount_cents, record.created_at) == (
        61, 2, 200, gone)
    with pytest.raises(MediaRoomNotFound):
        await container.media.participants(call.room)
    assert call.id not in await _ended(container, gone + timedelta(seconds=3 * grace))  # once


async def test_a_rejoin_after_the_grace_ran_out_finds_the_call_completed_as_of_the_drop(
        container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    grace = container.settings.experts.reconnect_grace
    call, t0 = await _answered(container, ann, bob)
    gone = t0 + timedelta(seconds=12)
    await dropped(container, call, ann, gone)
    late = await joined(container, call, ann, gone + timedelta(seconds=grace + 5))  # before any tick
    assert (late.status, late.duration, late.ended_at) == (COMPLETED, 12, gone)
    assert (await _billing(container, call.id)).billed_seconds == 12


async def test_when_both_drop_out_each_has_the_grace_from_their_own_drop(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    grace = container.settings.experts.reconnect_grace
    call, t0 = await _answered(container, ann, bob)
    at = t0 + timedelta(seconds=10)
    await dropped(container, call, ann, at)  # together 10 s
    both_away = await dropped(container, call, bob, at + timedelta(seconds=grace - 5))
    assert (both_away.seeker_present, both_away.expert_present, both_away.status) == (False, False, EXPERT_ANSWERED)
    await joined(container, call, ann, at + timedelta(seconds=grace - 1))  # just in time
    assert call.id not in await _ended(container, at + timedelta(seconds=grace + 5))  # bob's grace still runs
    await joined(container, call, bob, at + timedelta(seconds=2 * grace - 6))
    done = await left(container, call, ann, at + timedelta(seconds=2 * grace + 14))  # together 20 s more
    assert (done.status, done.duration) == (COMPLETED, 30)


async def test_hanging_up_while_the_other_party_is_away_completes_the_call_at_once(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    call, t0 = await _answered(container, ann, bob)
    await dropped(container, call, bob, t0 + timedelta(seconds=20))
    done = await left(container, call, ann, t0 + timedelta(seconds=25))
    assert (done.status, done.duration, done.ended_at) == (COMPLETED, 20, t0 + timedelta(seconds=25))


async def test_without_a_reconnect_grace_any_leave_completes_the_call_at_once(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    call, t0 = await _answered(container, ann, bob)
    runtime = Runtime(container, container.media)  # type: ignore[arg-type]
    runtime.settings = container.settings.model_copy(update={
        "experts": container.settings.experts.model_copy(update={"reconnect_grace": 0})})
    await actions.on_media_event(runtime, MediaEvent("left", call.room, str(ann.id)), at=t0 + timedelta(seconds=9))
    done = await call_now(container, call)
    assert (done.status, done.duration) == (COMPLETED, 9)
