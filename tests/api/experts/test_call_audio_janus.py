"""A whole expert call through a real Janus: the expert connects, the seeker and then the expert join
the call's AudioBridge room with the ``connection_url`` the API hands each of them (aiortc clients),
the status follows their real joins, the seeker's voice reaches the expert, and the seeker hanging up
(a drop to Janus, which cannot tell one from a hang-up) completes the call, once the reconnect grace
ran out, as of the moment they left, with its duration and billing record. Janus missing skips this (see tests/media).
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from tests.api.experts.calls_fixtures import Caller, caller
from tests.api.social.rooms.test_social_rooms_janus import janus_app  # noqa: F401  (the fixture)
from tests.media.conftest import sounds  # noqa: F401  (the fixture)
from tests.media.test_janus_audio import HEARD, JOIN_TIMEOUT
from townhall.container import Container
from townhall.core.calls import actions, service
from townhall.core.calls.models import Call

RATE_CENTS = 6_000  # $60 an hour: a dollar a minute


async def _status_becomes(member: Caller, call_id: int, wanted: str, timeout: float = 20.0) -> dict[str, Any]:
    """The call once it reached ``wanted`` (polled, as a client tracks a call), or the test fails."""
    async with asyncio.timeout(timeout):
        while True:
            call = await member.ok("get", f"/calls/{call_id}")
            if call["status"] == wanted:
                return call
            await asyncio.sleep(0.1)


async def _call(container: Container, call_id: int) -> Call:
    async with container.read() as conn:
        found = await service.get_call(conn, call_id)
    assert found is not None
    return found


async def _dropped_out(container: Container, call_id: int, timeout: float = 20.0) -> datetime:
    """When the seeker's leave reached the calls core (the reconnect grace starts then)."""
    async with asyncio.timeout(timeout):
        while (gone := (await _call(container, call_id)).seeker_left_at) is None:
            await asyncio.sleep(0.1)
    return gone


async def test_a_call_through_janus_connects_both_parties_carries_audio_and_is_billed(
        janus_app: tuple[FastAPI, Container], sounds: dict[str, str]) -> None:  # noqa: F811
    import httpx

    from tests.media.audio_client import AudioClient

    app, container = janus_app
    transport = httpx.ASGITransport(app=app)
    clients: list[AudioClient] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://townhall.test") as http:
        seeker = await caller(container, http, "seeker")
        expert = await caller(container, http, "expert", rate_cents=RATE_CENTS)
        try:
            call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "audio"})
            connected = await expert.ok("post", f"/calls/{call['id']}/connect")
            assert connected["status"] == "dialing_seeker"
            expert_url = connected["connection"]["connection_url"]
            seeker_url = (await seeker.ok("get", f"/calls/{call['id']}"))["connection"]["connection_url"]
            assert expert_url.startswith("janus:") and seeker_url.startswith("janus:") and seeker_url != expert_url

            speaking = AudioClient(seeker_url, send_wav=sounds["tone"])
            clients.append(speaking)
            await asyncio.wait_for(speaking.join(), JOIN_TIMEOUT)
            await _status_becomes(seeker, call["id"], "dialing_expert")  # answered, the expert dialled

            listening = AudioClient(expert_url, send_wav=sounds["speech"])
            clients.append(listening)
            await asyncio.wait_for(listening.join(), JOIN_TIMEOUT)
            await _status_becomes(expert, call["id"], "expert_answered")
            await asyncio.sleep(1.5)  # ICE, DTLS and the first mixed packets
            assert await listening.measure(3.0) > HEARD  # the seeker is heard by the expert
            assert await speaking.measure(2.0) > HEARD  # and the other way round

            await asyncio.wait_for(speaking.close(), 10)  # the seeker hangs up: to Janus, a drop like any other
            clients.remove(speaking)
            gone = await _dropped_out(container, call["id"])
            assert (await expert.ok("get", f"/calls/{call['id']}"))["status"] == "expert_answered"  # grace runs
            grace = container.settings.experts.reconnect_grace
            await actions.tick(container, at=gone + timedelta(seconds=grace))  # the seeker did not come back
            done = await _status_becomes(expert, call["id"], "call_completed")
            over = await _call(container, call["id"])
            assert over.answered_at is not None and over.ended_at == gone  # completed as of the drop
            assert done["duration"] == math.ceil((gone - over.answered_at).total_seconds())
            assert done["duration"] > 0 and "connection" not in done
            async with container.read() as conn:
                record = await service.billing_record(conn, call["id"])
            assert record is not None
            assert (record.payer_id, record.payee_id, record.billed_seconds) == (seeker.user_id, expert.user_id,
                                                                                 done["duration"])
            assert (record.billed_minutes, record.amount_cents) == service.charge(RATE_CENTS, done["duration"])
            assert record.amount_cents == 100 * record.billed_minutes
        finally:
            await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)

