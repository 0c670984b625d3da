"""Billing (minutes rounded up, one record per call), needs (who sees them, fulfilling once) and the
calls' push notifications (written with the change, delivered at least once, retried)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from townhall.container import Container
from townhall.core.calls import actions, notifications, service
from townhall.core.calls import events as ev
from townhall.core.calls.models import COMPLETED, PENDING
from townhall.core.calls.tables import call_billing_records, call_notifications
from townhall.core.clock import now
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.integrations.push import LogPush, PushError, PushMessage

from .factories import Recorder, joined, left, make_club, make_users, request, set_rate


@pytest.mark.parametrize(("rate", "seconds", "minutes", "cents"), [
    (10_000, 0, 0, 0),
    (10_000, 1, 1, 167),  # 100.00/h: 1.6667 a minute, to the nearest cent
    (10_000, 60, 1, 167),
    (10_000, 61, 2, 333),
    (10_000, 3600, 60, 10_000),
    (6_000, 59, 1, 100),
    (1, 60, 1, 0),  # 1 cent an hour: a minute is 0.017 cent
    (30, 60, 1, 1),  # exactly half a cent rounds up
    (0, 5000, 84, 0),  # a free call
])
def test_a_call_is_charged_by_the_minute_rounded_up(rate: int, seconds: int, minutes: int, cents: int) -> None:
    assert service.charge(rate, seconds) == (minutes, cents)


async def test_a_completed_call_is_billed_once_in_the_transaction_that_completes_it(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    await set_rate(container, bob, 12_000)
    call = await request(container, ann, bob)
    await set_rate(container, bob, 99_999)  # later changes do not touch the frozen rate
    start = now()
    await actions.connect(container, bob.id, call.id, at=start)
    await joined(container, call, ann, start)
    await joined(container, call, bob, start + timedelta(seconds=2))
    await left(container, call, bob, start + timedelta(seconds=2 + 150.2))
    async with container.uow() as uow:  # a second completion (a replayed event) writes nothing more
        assert await service.do_media_event(uow, "left", call.id, ann.id) is None
    async with container.read() as conn:
        rows = (await conn.execute(select(call_billing_records).where(
            call_billing_records.c.call_id == call.id))).mappings().all()
        done = await service.get_call(conn, call.id)
    assert done is not None and done.status == COMPLETED and done.duration == 151
    assert [(r["billed_seconds"], r["billed_minutes"], r["amount_cents"], r["hourly_rate_cents"]) for r in rows] == [
        (151, 3, 600, 12_000)]


async def test_needs_are_seen_by_the_members_of_the_requesters_organizations(container: Container) -> None:
    ann, bob, cat, dan = await make_users(container, "ann", "bob", "cat", "dan")
    await make_club(container, ann, members=[bob])
    await make_club(container, cat, members=[dan])
    async with container.uow() as uow:
        need = await service.do_post_need(uow, ann.id, "  Intro to a VC  ", True)
        other = await service.do_post_need(uow, dan.id, "Hiring advice", "false")

    async def seen_by(user_id: int) -> list[int]:
        async with container.read() as conn:
            return [n.id for n in await service.list_needs(conn, user_id, limit=100, offset=0)]

    assert (need.description, need.paid, need.requester_id) == ("Intro to a VC", True, ann.id)
    assert other.paid is False
    assert need.id in await seen_by(ann.id) and need.id in await seen_by(bob.id)
    assert need.id not in await seen_by(cat.id)
    assert other.id in await seen_by(cat.id) and other.id not in await seen_by(bob.id)


async def test_posting_a_need_checks_its_fields(container: Container) -> None:
    (ann,) = await make_users(container, "ann")
    for description, paid in (("", True), (None, True), ("x" * 1001, False), ("ok", "maybe"), ("ok", 2)):
        with pytest.raises(Invalid):
            async with container.uow() as uow:
                await service.do_post_need(uow, ann.id, description, paid)
    async with container.uow() as uow:
        assert (await service.do_post_need(uow, ann.id, "x" * 1000, None)).paid is False


async def test_fulfilling_a_need_makes_one_pending_call_with_its_requester(container: Container) -> None:
    ann, bob, cat, eve = await make_users(container, "ann", "bob", "cat", "eve")
    await make_club(container, ann, members=[bob, cat])
    await set_rate(container, bob, 5_000)
    async with container.uow() as uow:
        paid = await service.do_post_need(uow, ann.id, "word " * 40, True)
        free = await service.do_post_need(uow, ann.id, "Quick question", False)
    with pytest.raises(Forbidden):
        await actions.fulfill_need(container, ann.id, paid.id)
    with pytest.raises(NotFound):
        await actions.fulfill_need(container, eve.id, paid.id)  # not in ann's organizations
    with pytest.raises(NotFound):
        await actions.fulfill_need(container, bob.id, 2**40)
    async with Recorder(container) as seen:
        call = await actions.fulfill_need(container, bob.id, paid.id)
    assert [e.topic for e in seen.of(ev.CallRequested)] == [f"user:{ann.id}"]  # the seeker learns of the offer
    assert (call.status, call.seeker_id, call.expert_id, call.hourly_rate_cents) == (PENDING, ann.id, bob.id, 5_000)
    assert len(call.reason) == 140 and call.reason.endswith("…")
    assert (await actions.fulfill_need(container, bob.id, paid.id)).id == call.id  # a retry
    with pytest.raises(Conflict):
        await actions.fulfill_need(container, cat.id, paid.id)
    assert (await actions.fulfill_need(container, bob.id, free.id)).hourly_rate_cents == 0
    async with container.read() as conn:
        assert paid.id not in [n.id for n in await service.list_needs(conn, cat.id, limit=100, offset=0)]


async def test_requests_and_dials_are_pushed_once_committed_and_failed_pushes_are_retried(
        container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    sender = LogPush()
    container.extras[actions.PUSH_KEY] = sender
    try:
        call = await request(container, ann, bob)
        await actions.connect(container, bob.id, call.id)
        mine = [(m.user_id, m.data["kind"], m.data["call_id"]) for m in sender.sent if m.data.get("call_id") == call.id]
        assert mine == [(bob.id, "call.requested", call.id), (ann.id, "call.dial", call.id)]
        assert all("connection_url" not in m.data for m in sender.sent)  # no secrets in a push

        failing = Flaky()
        container.extras[actions.PUSH_KEY] = failing
        await joined(container, call, ann)  # dials bob: the push fails
        rows = await _notes(container, call.id)
        assert [(r["kind"], r["status"], r["attempts"]) for r in rows][-1] == ("call.dial", "pending", 1)
        assert rows[-1]["last_error"] == "provider down"
        assert await actions.deliver_notifications(container) == 0  # backing off
        failing.down = False
        later = now() + notifications.BACKOFF
        assert await actions.deliver_notifications(container, at=later) >= 1
        assert [m.user_id for m in failing.sent if m.data.get("call_id") == call.id] == [bob.id]
        assert (await _notes(container, call.id))[-1]["status"] == "delivered"
    finally:
        container.extras.pop(actions.PUSH_KEY, None)


class Flaky(LogPush):
    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def send(self, message: PushMessage) -> None:
        if self.down:
            raise PushError("provider down")
        await super().send(message)


async def _notes(container: Container, call_id: int) -> list[dict[str, object]]:
    async with container.read() as conn:
        rows = await conn.execute(select(call_notifications).where(call_notifications.c.call_id == call_id)
                                  .order_by(call_notifications.c.id))
        return [dict(r) for r in rows.mappings()]


async def test_a_push_is_given_up_after_its_last_attempt(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    failing = Flaky()
    container.extras[actions.PUSH_KEY] = failing
    try:
        call = await request(container, ann, bob)
        at = now()
        for _ in range(notifications.MAX_ATTEMPTS):
            at += timedelta(days=1)
            await actions.deliver_notifications(container, at=at)
        (row,) = await _notes(container, call.id)
        assert (row["status"], row["attempts"]) == ("failed", notifications.MAX_ATTEMPTS)
    finally:
        container.extras.pop(actions.PUSH_KEY, None)


async def test_a_request_pushes_only_its_own_notifications_and_leaves_the_backlog_to_the_periodic_job(
        container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    async with container.uow() as uow:  # committed, not yet pushed (as if its process had stopped)
        waiting = await service.do_request_call(uow, cat.id, bob.id, "earlier request")
    sender = LogPush()
    container.extras[actions.PUSH_KEY] = sender
    try:
        call = await request(container, ann, bob)
        assert [m.data["call_id"] for m in sender.sent] == [call.id]
        assert [r["status"] for r in await _notes(container, waiting.id)] == ["pending"]
        assert await actions.deliver_notifications(container) >= 1
        assert waiting.id in [m.data["call_id"] for m in sender.sent]
    finally:
        container.extras.pop(actions.PUSH_KEY, None)
