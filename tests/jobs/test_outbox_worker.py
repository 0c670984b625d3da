"""The outbox worker delivers every event at least once to a real receiver on loopback: signed,
retried with backoff after errors and timeouts, paused (not dropped) when a subscription keeps
failing, and never delivered twice at once by several workers."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from sqlalchemy import func, select, update

from tests.jobs.receiver import Receiver
from townhall.config import ForumSettings
from townhall.container import Container
from townhall.jobs import webhooks
from townhall.jobs import worker as worker_module
from townhall.jobs.tables import outbox, webhook_subscriptions
from townhall.jobs.worker import OutboxWorker, sign, verify

SURFACE = "test"


@pytest.fixture
def make_container(make_container: Callable[..., Any]) -> Callable[..., Any]:
    """The receivers here listen on loopback: such targets are allowed unless a test says otherwise."""

    async def make(**forum: object) -> Container:
        return await make_container(**{"allow_private_webhook_targets": True, **forum})  # type: ignore[no-any-return]

    return make


async def _subscribe(container: Container, url: str, events: list[str] | None = None) -> webhooks.Subscription:
    async with container.uow() as uow:
        return await webhooks.do_subscribe(uow, SURFACE, url, events or ["thing.happened"], created_by="tests")


async def _emit(container: Container, n: int = 1, event: str = "thing.happened") -> None:
    async with container.uow() as uow:
        for i in range(n):
            await webhooks.enqueue(uow, SURFACE, event, {"thing": [{"n": i}]})


async def _drain(worker: OutboxWorker, until: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        if not await worker.run_once():
            await asyncio.sleep(0.02)


async def test_a_delivery_is_signed_over_timestamp_and_body(make_container: Callable[..., Any]) -> None:
    container = await make_container()
    with Receiver() as receiver:
        sub = await _subscribe(container, receiver.url)
        await _emit(container)
        await _drain(OutboxWorker(container), lambda: len(receiver.delivered()) == 1)
    (got,) = receiver.delivered()
    assert got.json["event"] == "thing.happened" and got.json["entities"] == {"thing": [{"n": 0}]}
    assert isinstance(got.json["job_id"], int)
    h = got.headers
    assert h["x-townhall-attempt"] == "1" and h["x-townhall-event"] == "thing.happened" and h["x-townhall-delivery"]
    ts, delivery, signature = h["x-townhall-timestamp"], h["x-townhall-delivery"], h["x-townhall-signature"]
    assert verify(sub.secret, ts, delivery, got.body, signature)
    assert not verify("another secret", ts, delivery, got.body, signature)
    assert not verify(sub.secret, ts, delivery, got.body + b" ", signature)
    assert not verify(sub.secret, str(int(ts) - 3600), delivery, got.body, signature)


def test_the_signature_covers_the_delivery_id_so_a_replay_under_another_id_fails() -> None:
    ts = str(int(time.time()))
    signature = sign("secret", ts, "delivery-1", b"{}")
    assert verify("secret", ts, "delivery-1", b"{}", signature)
    assert not verify("secret", ts, "delivery-2", b"{}", signature)


def test_verify_answers_false_for_a_non_ascii_signature_header() -> None:
    ts = str(int(time.time()))
    assert verify("secret", ts, "d", b"{}", "sha256=caf\u00e9") is False
    assert verify("secret", ts, "d", b"{}", "\udc80") is False
    assert verify("secret", ts, "d\u00e9", b"{}", sign("secret", ts, "d\u00e9", b"{}")) is True


async def test_receiver_errors_are_retried_with_the_same_delivery_id(make_container: Callable[..., Any]) -> None:
    container = await make_container()
    with Receiver(lambda _d, seen: "fail" if seen < 3 else "ok") as receiver:
        sub = await _subscribe(container, receiver.url)
        await _emit(container)
        started = time.monotonic()
        await _drain(OutboxWorker(container), lambda: len(receiver.delivered()) == 1)
        elapsed = time.monotonic() - started
    attempts = [r.headers["x-townhall-attempt"] for r in receiver.requests]
    assert attempts == ["1", "2", "3", "4"]
    assert len({r.headers["x-townhall-delivery"] for r in receiver.requests}) == 1
    assert elapsed >= 0.05 + 0.1 + 0.2 * 0.9  # backoff 0.05, 0.1, then capped at 0.2
    async with container.read() as conn:
        log = await webhooks.list_deliveries(conn, SURFACE, sub.id, limit=10, offset=0)
        fresh = await webhooks.access_subscription(conn, SURFACE, sub.id)
    assert [(d.attempt, d.outcome, d.status_code) for d in reversed(log)] == [
        (1, "failed", 500), (2, "failed", 500), (3, "failed", 500), (4, "delivered", 200)]
    assert fresh.failures == 0 and fresh.status == "active"


async def test_a_receiver_that_times_out_gets_the_event_again(make_container: Callable[..., Any]) -> None:
    container = await make_container(webhook_timeout=0.3)
    with Receiver(lambda _d, seen: ("slow", 1.0) if seen == 0 else "ok") as receiver:
        sub = await _subscribe(container, receiver.url)
        await _emit(container)
        await _drain(OutboxWorker(container), lambda: any(r.headers["x-townhall-attempt"] == "2"
                                                          for r in receiver.delivered()))
    async with container.read() as conn:
        log = await webhooks.list_deliveries(conn, SURFACE, sub.id, limit=10, offset=0)
    assert [(d.attempt, d.outcome, d.error) for d in reversed(log)] == [(1, "failed", "timeout"),
                                                                        (2, "delivered", None)]


async def test_a_failing_subscription_is_paused_and_its_events_kept(make_container: Callable[..., Any]) -> None:
    container = await make_container(webhook_pause_after=3, webhook_pause_after_seconds=0.3)
    healthy = False
    with Receiver(lambda _d, _seen: "ok" if healthy else "fail") as receiver:
        sub = await _subscribe(container, receiver.url)
        await _emit(container, 2)
        worker = OutboxWorker(container)

        async def paused() -> bool:
            async with container.read() as conn:
                return (await webhooks.access_subscription(conn, SURFACE, sub.id)).status == "paused"

        deadline = time.monotonic() + 20
        while not await paused():
            assert time.monotonic() < deadline
            await worker.run_once()
            await asyncio.sleep(0.02)
        tried = len(receiver.requests)
        for _ in range(5):  # paused: nothing more is attempted
            await worker.run_once()
            await asyncio.sleep(0.05)
        assert len(receiver.requests) == tried
        async with container.read() as conn:
            assert await webhooks.pending_count(conn, sub.id) == 2

        healthy = True
        async with container.uow() as uow:
            await webhooks.do_resume(uow, SURFACE, sub.id)
        await _drain(worker, lambda: len(receiver.delivered()) == 2)
    assert sorted(r.json["entities"]["thing"][0]["n"] for r in receiver.delivered()) == [0, 1]


async def test_several_workers_never_deliver_a_row_twice_at_once(make_container: Callable[..., Any]) -> None:
    containers = [await make_container(worker_batch=5) for _ in range(3)]
    with Receiver(lambda _d, _seen: ("slow", 0.01)) as receiver:
        await _subscribe(containers[0], receiver.url)
        await _emit(containers[0], 60)
        workers = [OutboxWorker(c) for c in containers]
        await asyncio.gather(*(_drain(w, lambda: len(receiver.delivered()) >= 60) for w in workers))
    ids = [r.headers["x-townhall-delivery"] for r in receiver.delivered()]
    assert len(ids) == 60 and len(set(ids)) == 60


async def test_an_event_is_written_only_if_its_transaction_commits(make_container: Callable[..., Any]) -> None:
    container = await make_container()
    with Receiver() as receiver:
        await _subscribe(container, receiver.url)
        async with container.read() as conn:
            before = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        try:
            async with container.uow() as uow:
                await webhooks.enqueue(uow, SURFACE, "thing.happened", {"thing": [{}]})
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
        async with container.read() as conn:
            assert (await conn.execute(select(func.count()).select_from(outbox))).scalar_one() == before


async def test_subscriptions_get_only_the_events_they_asked_for(make_container: Callable[..., Any]) -> None:
    container = await make_container()
    with Receiver() as receiver:
        await _subscribe(container, receiver.url, ["b.happened"])
        await _emit(container, 1, "a.happened")
        await _emit(container, 1, "b.happened")
        await _drain(OutboxWorker(container), lambda: len(receiver.delivered()) == 1)
        await asyncio.sleep(0.1)
    assert [r.json["event"] for r in receiver.delivered()] == ["b.happened"]


async def test_a_short_outage_does_not_pause_a_subscription(make_container: Callable[..., Any]) -> None:
    container = await make_container(webhook_pause_after=2, webhook_pause_after_seconds=60)
    with Receiver(lambda _d, seen: "fail" if seen < 4 else "ok") as receiver:
        sub = await _subscribe(container, receiver.url)
        await _emit(container, 3)
        await _drain(OutboxWorker(container), lambda: len(receiver.delivered()) == 3)
    async with container.read() as conn:
        fresh = await webhooks.access_subscription(conn, SURFACE, sub.id)
    assert fresh.status == "active" and fresh.failures == 0


async def test_old_delivered_events_are_pruned_and_pending_ones_kept(make_container: Callable[..., Any]) -> None:
    container = await make_container(webhook_retention_days=0)
    with Receiver(lambda _d, seen: "ok") as receiver:
        sub = await _subscribe(container, receiver.url)
        await _emit(container, 2)
        worker = OutboxWorker(container)
        await _drain(worker, lambda: len(receiver.delivered()) == 2)
    async with container.uow() as uow:  # the receiver is gone: this one stays pending
        await uow.conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == sub.id)
                               .values(status="paused"))
    await _emit(container, 1)
    assert await worker.prune() >= 2  # earlier tests' delivered rows go too
    async with container.read() as conn:
        assert await webhooks.pending_count(conn, sub.id) == 1
        assert await webhooks.list_deliveries(conn, SURFACE, sub.id, limit=10, offset=0) == []


class _Dripper:
    """A receiver on loopback that answers one byte at a time, each well within the read timeout:
    the whole answer takes far longer than ``webhook_timeout``."""

    def __init__(self, *, drip_headers: bool) -> None:
        self.drip_headers = drip_headers
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        for writer in self.writers:
            writer.close()
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        headers = b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n"
        try:
            if self.drip_headers:
                for byte in headers:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.1)
            else:
                writer.write(headers)
            for _ in range(40):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)
        except (ConnectionError, asyncio.CancelledError):
            pass


async def test_a_receiver_dripping_its_answer_is_cut_off_at_the_delivery_timeout(
        make_container: Callable[..., Any]) -> None:
    container = await make_container(webhook_timeout=0.5, worker_lease=1.5)
    async with _Dripper(drip_headers=True) as url:
        sub = await _subscribe(container, url)
        await _emit(container)
        started = time.monotonic()
        assert await OutboxWorker(container).run_once() == 1
        elapsed = time.monotonic() - started
    assert elapsed < 1.5  # well within the lease: no other worker could have taken the row meanwhile
    async with container.read() as conn:
        (attempt,) = await webhooks.list_deliveries(conn, SURFACE, sub.id, limit=10, offset=0)
    assert (attempt.outcome, attempt.error) == ("failed", "timeout")


async def test_a_receivers_answer_body_is_not_read(make_container: Callable[..., Any]) -> None:
    container = await make_container(webhook_timeout=2.0, worker_lease=5.0)
    async with _Dripper(drip_headers=False) as url:  # status at once, then a 4 s body
        sub = await _subscribe(container, url)
        await _emit(container)
        started = time.monotonic()
        assert await OutboxWorker(container).run_once() == 1
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    async with container.read() as conn:
        (attempt,) = await webhooks.list_deliveries(conn, SURFACE, sub.id, limit=10, offset=0)
    assert (attempt.outcome, attempt.status_code) == ("delivered", 200)


def test_settings_refuse_a_lease_shorter_than_a_delivery() -> None:
    with pytest.raises(ValidationError, match="worker_lease"):
        ForumSettings(worker_lease=5, webhook_timeout=5)
    with pytest.raises(ValidationError, match="worker_lease"):
        ForumSettings(worker_lease=2, webhook_timeout=5)
    assert ForumSettings(worker_lease=6, webhook_timeout=5).worker_lease == 6


async def test_the_backoff_of_a_row_retried_thousands_of_times_stays_at_the_maximum(
        make_container: Callable[..., Any]) -> None:
    container = await make_container(webhook_max_backoff=0.2)
    with Receiver(lambda _d, _seen: "fail") as receiver:
        sub = await _subscribe(container, receiver.url)
        await _emit(container)
        async with container.uow() as uow:
            await uow.conn.execute(update(outbox).where(outbox.c.subscription_id == sub.id).values(attempts=5000))
        assert await OutboxWorker(container).run_once() == 1
    async with container.read() as conn:
        row = (await conn.execute(select(outbox).where(outbox.c.subscription_id == sub.id))).mappings().one()
    assert row["attempts"] == 5001 and row["status"] == "pending"
    assert (row["next_attempt_at"] - row["claimed_until"]).total_seconds() == pytest.approx(0.2, abs=0.01)


async def test_deleting_a_subscription_removes_its_pending_events(make_container: Callable[..., Any]) -> None:
    container = await make_container()
    sub = await _subscribe(container, "http://127.0.0.1:9/never")
    await _emit(container, 3)
    async with container.uow() as uow:
        await webhooks.do_unsubscribe(uow, SURFACE, sub.id)
    async with container.read() as conn:
        left = (await conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.subscription_id == sub.id, outbox.c.status == "pending"))).scalar_one()
    assert left == 0


async def test_a_target_that_resolves_to_a_private_address_at_delivery_time_is_not_sent_to(
        make_container: Callable[..., Any]) -> None:
    container = await make_container(allow_private_webhook_targets=False)
    with Receiver() as receiver:
        sub = await _subscribe(container, receiver.url)  # accepted once, loopback by the time it is sent
        await _emit(container)
        worker = OutboxWorker(container)
        assert await worker.run_once() == 1
        await worker.close()
    assert receiver.delivered() == []
    async with container.read() as conn:
        (delivery,) = await webhooks.list_deliveries(conn, SURFACE, sub.id, limit=10, offset=0)
        row = (await conn.execute(select(outbox).where(outbox.c.subscription_id == sub.id))).mappings().one()
    assert delivery.outcome == "failed" and delivery.status_code is None
    assert delivery.error is not None and delivery.error.startswith("refused target:") and "127.0.0.1" in delivery.error
    assert row["status"] == "pending" and row["attempts"] == 1  # retried later, like any failure


async def test_a_delivery_goes_to_the_address_checked_with_the_targets_host_name(
        make_container: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    container = await make_container(allow_private_webhook_targets=False)
    checked: list[str] = []

    async def resolved_once(url: str) -> list[Any]:  # the check's answer; a second lookup would fail
        checked.append(url)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(worker_module, "checked_addresses", resolved_once)
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        target = f"http://hooks.townhall.invalid:{port}/hook"  # a name no resolver knows
        await _subscribe(container, target)
        await _emit(container)
        await _drain(OutboxWorker(container), lambda: len(receiver.delivered()) == 1)
    (got,) = receiver.delivered()
    assert checked == [target]
    assert got.headers["host"] == f"hooks.townhall.invalid:{port}"


def test_public_addresses_are_told_from_internal_ones_in_every_ip_form() -> None:
    internal = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
                "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe",
                "2001:db8::1"]
    public = ["8.8.8.8", "93.184.216.34", "::ffff:8.8.8.8", "2001:4860:4860::8888", "2002:808:808::"]
    assert [a for a in internal if webhooks.is_public_address(ipaddress.ip_address(a))] == []
    assert [a for a in public if not webhooks.is_public_address(ipaddress.ip_address(a))] == []


async def test_host_names_are_judged_by_every_address_they_resolve_to() -> None:
    for url in ("http://localhost:8080/x", "http://127.1/x", "http://2130706433/x", "http://[::ffff:7f00:1]/x",
                "https://0x7f.0.0.1/x"):
        with pytest.raises(webhooks.TargetRefused):
            await webhooks.checked_addresses(url)
    with pytest.raises(webhooks.TargetRefused):
        await webhooks.checked_addresses("http://hooks.townhall.invalid/x")  # does not resolve
    assert await webhooks.checked_addresses("http://8.8.8.8/x") == [ipaddress.ip_address("8.8.8.8")]


def test_a_pinned_https_request_keeps_the_host_name_for_the_host_header_and_tls() -> None:
    url, headers, extensions = webhooks.pinned("https://hooks.example.com:8443/in?x=1",
                                               ipaddress.ip_address("2001:4860:4860::8888"))
    assert str(url) == "https://[2001:4860:4860::8888]:8443/in?x=1"
    assert headers == {"Host": "hooks.example.com:8443"} and extensions == {"sni_hostname": "hooks.example.com"}
    same, headers, extensions = webhooks.pinned("http://8.8.8.8/in", ipaddress.ip_address("8.8.8.8"))
    assert str(same) == "http://8.8.8.8/in" and headers == {} and extensions == {}


def _self_signed(host: str, directory: Path) -> tuple[Path, Path, str]:
    """(certificate file, key file, certificate PEM) of a self-signed certificate for ``host`` only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (directory / "cert.pem").write_text(pem)
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory / "cert.pem", directory / "key.pem", pem


async def test_a_pinned_https_delivery_verifies_the_certificate_of_the_targets_host_name(
        make_container: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    host = "hooks.townhall.test"
    cert, key, pem = _self_signed(host, tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    names: list[str | None] = []

    def server_name(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    server_tls.sni_callback = server_name  # type: ignore[assignment]
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        seen.append(head)
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]

    async def resolved_once(url: str) -> list[Any]:
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(worker_module, "checked_addresses", resolved_once)
    container = await make_container(allow_private_webhook_targets=False)
    await _subscribe(container, f"https://{host}:{port}/hook")
    await _emit(container)
    trusting = httpx.AsyncClient(verify=ssl.create_default_context(cadata=pem))
    worker = OutboxWorker(container, http=trusting)
    try:
        await _drain(worker, lambda: len(seen) == 1)
    finally:
        await worker.close()
        await trusting.aclose()
        server.close()
        await server.wait_closed()
    assert names == [host]  # the TLS server name is the host name, and its certificate was accepted
    assert f"host: {host}:{port}".encode() in seen[0].lower()
