"""Per-member rate limits of the experts surface: direct messages sent and calls requested or
connected a minute (``experts.messages_per_minute``, ``calls_per_minute``). Past a limit the answer
is the surface's error JSON, 429 ``rate_limited`` with Retry-After, and nothing is written; other
members keep their own budget; the next minute starts afresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from tests.api.experts.calls_fixtures import Caller, caller, error_of
from townhall.app import create_app
from townhall.config import ExpertsSettings, Settings
from townhall.container import Container

START = 60 * 29_000_000 + 30.0  # half way through a minute


@dataclass
class Limited:
    container: Container
    http: httpx.AsyncClient
    clock: list[float]  # [now]: the limiter's time, moved by the test

    async def member(self, name: str, rate_cents: int | None = None) -> Caller:
        return await caller(self.container, self.http, name, rate_cents=rate_cents)


def experts_app(app: FastAPI) -> FastAPI:
    return next(r.app for r in app.routes if getattr(r, "path", "") == "/experts")  # type: ignore[attr-defined]


@pytest.fixture
async def limited(settings: Settings, migrated_db_url: str) -> AsyncIterator[Limited]:
    """The whole app with 2 messages and 1 call a minute per member, on a clock the test moves."""
    tight = settings.model_copy(update={"experts": ExpertsSettings(messages_per_minute=2, calls_per_minute=1)})
    container = Container.build(tight)
    await container.start()
    app = create_app(tight, container)
    clock = [START]
    experts_app(app).state.member_limits.counter.clock = lambda: clock[0]
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://townhall.test") as http:
                yield Limited(container, http, clock)
    finally:
        await container.close()


def assert_refused(response: httpx.Response) -> None:
    assert error_of(response) == (429, "rate_limited")
    assert response.headers["Retry-After"] == "30"  # the rest of the minute
    assert response.headers["Cache-Control"] == "no-store"


async def test_a_member_past_the_message_limit_is_refused_and_nothing_is_sent(limited: Limited) -> None:
    me, other, third = await limited.member("me"), await limited.member("other"), await limited.member("third")
    for text in ("one", "two"):
        await me.ok("post", f"/messages/{other.user_id}", 201, json={"message": text})
    refused = await me.post(f"/messages/{other.user_id}", json={"message": "three"})
    assert_refused(refused)
    seen = await other.ok("get", f"/messages/{me.user_id}")
    assert [m["message"] for m in seen["messages"]] == ["two", "one"]
    # other members keep their own budget, also towards the same recipient
    await third.ok("post", f"/messages/{other.user_id}", 201, json={"message": "hello"})
    await other.ok("post", f"/messages/{me.user_id}", 201, json={"message": "stop it"})
    # the next minute starts afresh
    limited.clock[0] = START + 30
    await me.ok("post", f"/messages/{other.user_id}", 201, json={"message": "three"})


async def test_a_member_past_the_call_limit_is_refused_and_no_call_is_made(limited: Limited) -> None:
    seeker = await limited.member("seeker")
    expert = await limited.member("expert", rate_cents=10_000)
    another = await limited.member("another seeker")
    first = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "first"})
    assert_refused(await seeker.post("/calls", json={"expert_id": expert.user_id, "reason": "again"}))
    assert [c["id"] for c in await seeker.ok("get", "/calls/requested")] == [first["id"]]
    # another seeker is not affected
    second = await another.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "mine"})
    # connecting counts too: the expert connects one call, then is refused the next, which stays pending
    await expert.ok("post", f"/calls/{first['id']}/connect")
    assert_refused(await expert.post(f"/calls/{second['id']}/connect"))
    assert (await another.ok("get", f"/calls/{second['id']}"))["status"] == "pending"
    # the next minute starts afresh
    limited.clock[0] = START + 30
    await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "next minute"})


async def test_a_limit_of_zero_is_no_limit(settings: Settings, migrated_db_url: str) -> None:
    off = settings.model_copy(update={"experts": ExpertsSettings(messages_per_minute=0, calls_per_minute=0)})
    container = Container.build(off)
    await container.start()
    app = create_app(off, container)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://townhall.test") as http:
                me, other = await caller(container, http, "me"), await caller(container, http, "other")
                for i in range(5):
                    await me.ok("post", f"/messages/{other.user_id}", 201, json={"message": f"m{i}"})
    finally:
        await container.close()
