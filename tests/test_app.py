"""The root application: landing page, health, metrics and the lifecycle of its container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from townhall.api.chat.lean import LeanRoutes
from townhall.api.common.surfaces import SURFACES
from townhall.app import create_app
from townhall.config import Settings
from townhall.container import Container
from townhall.realtime.bus import EventBusError


def requests_counted(**labels: str) -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "townhall_http_requests"
        for sample in metric.samples
        if sample.name == "townhall_http_requests_total"
        and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def test_the_landing_page_names_every_surface_with_its_path_and_docs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for surface in SURFACES:
        assert surface.name in response.text
        assert surface.path in response.text
        assert surface.docs in response.text
    assert "live" in response.text and "coming" in response.text
    assert 'href="/healthz"' in response.text and 'href="/metrics"' in response.text


async def test_healthz_reports_the_database_and_the_bus_as_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "bus": "ok"}


async def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    broken = Container.build(
        Settings(data_dir=tmp_path, database_url="sqlite+aiosqlite:////nonexistent/dir/x.db")
    )
    transport = httpx.ASGITransport(app=create_app(container=broken))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/healthz")
    finally:
        await broken.close()

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "bus": "ok"}


async def test_metrics_count_requests_by_surface_method_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = requests_counted(surface="root", method="GET", status="404")

    await client.get("/no/such/page")
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "townhall_http_requests_total{" in response.text
    assert "townhall_http_request_duration_seconds_bucket{" in response.text
    assert requests_counted(surface="root", method="GET", status="404") == before + 1


async def test_requests_under_a_surface_are_counted_as_that_surface(
    client: httpx.AsyncClient,
) -> None:
    before = requests_counted(surface="chat")

    await client.get("/chat/no-such-endpoint")

    assert requests_counted(surface="chat") == before + 1


async def test_pubnub_requests_are_counted_apart_from_the_root_apps(client: httpx.AsyncClient) -> None:
    before = requests_counted(surface="pubnub")

    await client.get("/time/0")

    assert requests_counted(surface="pubnub") == before + 1


async def test_an_app_built_from_settings_starts_and_closes_its_own_container(
    settings: Settings, migrated_db_url: str
) -> None:
    app = create_app(settings)
    container = app.state.container

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/healthz")).json()["status"] == "ok"

    with pytest.raises(EventBusError):  # closed with the app
        container.bus.subscribe("user:1", lambda event: None)


async def test_an_app_given_a_container_leaves_it_to_its_owner(
    settings: Settings, container: Container
) -> None:
    app = create_app(settings, container)

    async with app.router.lifespan_context(app):
        assert app.state.container is container

    assert (await container.bus.ready()) is None  # still open


def test_tokens_in_logged_urls_are_redacted() -> None:
    import logging

    from townhall.logging import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/chat/connect?api_key=k&authorization=eyJ.secret.sig&x=1", "1.1", 101),
        None,
    )
    RedactSecrets().filter(record)
    assert "eyJ.secret.sig" not in record.getMessage()
    assert "authorization=[redacted]&x=1" in record.getMessage()


def test_oauth_secrets_in_logged_urls_are_redacted_but_other_parameters_kept() -> None:
    from townhall.logging import redact

    line = redact("/experts/v1/me?oauth_token=T1&x=1 /experts/oauth/authorize?client_id=abc&client_secret=S2"
                  "&code=C3&grant_type=authorization_code&code_verifier=V4 /x?refresh_token=R5&postcode=9")
    for secret in ("T1", "S2", "C3", "V4", "R5"):
        assert secret not in line
    assert "client_id=abc" in line and "grant_type=authorization_code" in line and "postcode=9" in line


def test_unicode_digits_are_not_ids() -> None:
    import pytest

    from townhall.core.errors import Invalid
    from townhall.core.fields import check_positive_id, is_digits

    assert is_digits("42") and not is_digits("²") and not is_digits("١") and not is_digits("")
    for text in ("²", "①", "١"):
        with pytest.raises(Invalid):
            check_positive_id(text, "id")


async def test_middleware_added_after_the_app_is_built_still_runs(settings: Settings, container: Container) -> None:
    app = create_app(settings, container)
    seen: list[str] = []

    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.inner(scope, receive, send)

    app.add_middleware(Recorder)  # the chat front door is put in front only when the app first serves
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            await http.get("/healthz")
    assert seen == ["/healthz"]


async def test_a_chat_request_failing_outside_its_endpoint_still_gets_streams_error_json(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("the response could not be rendered")

    monkeypatch.setattr(LeanRoutes, "_serve", broken)
    before = requests_counted(surface="chat", status="500")

    response = await client.get("/chat/app", params={"api_key": "any"})

    assert response.status_code == 500
    assert response.json()["code"] == -1 and "duration" in response.json()
    assert requests_counted(surface="chat", status="500") == before + 1


def test_a_janus_api_secret_in_a_logged_url_object_is_redacted() -> None:
    import logging

    from townhall.logging import RedactSecrets

    url = httpx.URL("http://127.0.0.1:8088/janus/123?maxev=10&apisecret=S3CR3T")
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"', ("GET", url, 200),
                               None)
    RedactSecrets().filter(record)
    assert "S3CR3T" not in record.getMessage() and "apisecret=[redacted]" in record.getMessage()
