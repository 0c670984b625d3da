"""Per-endpoint rate limits: headers on every answer, 429 with Stream's code 9 past the limit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest

from townhall.api.chat.ratelimit import RateLimiter, RedisRateLimiter
from townhall.app import create_app
from townhall.config import ChatSettings, Settings
from townhall.container import Container


@pytest.fixture(params=["memory", "redis"])
async def limiter_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., RateLimiter]]:
    """Both counter stores, with the same contract."""
    made: list[RateLimiter] = []

    def make(**kwargs: Any) -> RateLimiter:
        if request.param == "memory":
            limiter = RateLimiter(**kwargs)
        else:
            url = request.getfixturevalue("redis_url")
            limiter = RedisRateLimiter(url, prefix=f"townhall-test:{uuid.uuid4().hex}:", **kwargs)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.close()


async def test_a_window_allows_the_limit_then_refuses_until_the_next_minute(limiter_factory) -> None:
    limiter = limiter_factory(per_endpoint={"GetApp": 2})
    verdicts = [await limiter.hit("GetApp", "app", server=True, now=600.0) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert [v.remaining for v in verdicts] == [1, 0, 0]
    assert verdicts[0].reset == 660
    assert (await limiter.hit("GetApp", "app", server=True, now=660.0)).allowed  # a new minute


async def test_limits_are_counted_per_subject_and_scaled_by_the_multiplier(limiter_factory) -> None:
    limiter = limiter_factory(multiplier=0.001)  # the defaults, scaled down to 10 a minute server-side
    assert limiter.limit_for("SendMessage", server=True) == 10
    assert limiter.limit_for("SendMessage", server=False) == 1
    for _ in range(10):
        assert (await limiter.hit("SendMessage", "app", server=True, now=0.0)).allowed
    assert not (await limiter.hit("SendMessage", "app", server=True, now=0.0)).allowed
    assert (await limiter.hit("SendMessage", "user:b", server=False, now=0.0)).allowed  # its own counter
    assert not RateLimiter(multiplier=0).enabled


async def test_the_snapshot_reports_what_a_subject_has_left(limiter_factory) -> None:
    limiter = limiter_factory(per_endpoint={"GetApp": 5})
    await limiter.hit("GetApp", "app", server=True, now=0.0)
    snapshot = await limiter.snapshot(["GetApp", "SendMessage"], True, "app", now=1.0)
    assert snapshot["GetApp"] == {"limit": 5, "remaining": 4, "reset": 60}
    assert snapshot["SendMessage"]["remaining"] == snapshot["SendMessage"]["limit"]


async def test_two_processes_share_one_redis_budget(redis_url: str) -> None:
    prefix = f"townhall-test:{uuid.uuid4().hex}:"
    first, second = (RedisRateLimiter(redis_url, per_endpoint={"GetApp": 3}, prefix=prefix) for _ in range(2))
    try:
        allowed = [(await limiter.hit("GetApp", "app", server=True, now=0.0)).allowed
                   for limiter in (first, second, first, second)]
        assert allowed == [True, True, True, False]
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_redis_lets_requests_through() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", per_endpoint={"GetApp": 1})
    try:
        verdicts = [await limiter.hit("GetApp", "app", server=True) for _ in range(3)]
        assert all(v.allowed for v in verdicts)
    finally:
        await limiter.close()


@pytest.fixture
async def limited(settings: Settings, migrated_db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    tight = settings.model_copy(update={"chat": ChatSettings(rate_limits={"GetApp": 2})})
    container = Container.build(tight)
    await container.start()
    app = create_app(tight, container)
    async with app.router.lifespan_context(app):
        token = jwt.encode({"server": True}, container.credentials.chat_api_secret, algorithm="HS256")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://townhall.test/chat",
                                     headers={"Authorization": token, "stream-auth-type": "jwt"},
                                     params={"api_key": container.credentials.chat_api_key}) as http:
            yield http, container
    await container.close()


async def test_past_the_limit_the_answer_is_429_with_code_9_and_the_headers(limited) -> None:
    http, _ = limited
    first = await http.get("/app")
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
    assert int(first.headers["x-ratelimit-reset"]) > 0
    await http.get("/app")
    refused = await http.get("/app")
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == 9 and body["StatusCode"] == 429 and "duration" in body
    assert refused.headers["x-ratelimit-remaining"] == "0"
    # other endpoints keep their own budget
    assert (await http.get("/channeltypes")).status_code == 200
