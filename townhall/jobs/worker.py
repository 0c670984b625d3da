"""The outbox worker: delivers webhook rows at least once, with retries and exponential backoff.

Any number of workers (in serving processes and ``townhall worker`` processes) may run at once:
a worker claims rows by leasing them (``claimed_until``) in one short unit of work, delivers them
outside any transaction, and records each result in another. A worker killed mid-delivery
leaves its rows leased; when the lease runs out another worker delivers them again (receivers
deduplicate with the ``X-Townhall-Delivery`` header).

Delivery is at least once and NOT ordered: rows are claimed in batches and sent concurrently, a
failed row is retried later while newer ones go out, and several workers run at once. Receivers
order events by their own fields (``last_modified_at``...), not by arrival.

Each attempt is bounded as a whole by ``webhook_timeout`` (which the lease outlasts, see
``ForumSettings``); the receiver's answer body is not read.

Each request carries ``X-Townhall-Timestamp`` (Unix seconds), ``X-Townhall-Signature``
(``sha256=`` + hex HMAC-SHA256 with the subscription's secret over
``<timestamp>.<delivery id>.<body>``, so neither the time nor the delivery id can be replayed),
``X-Townhall-Delivery`` (the same on every attempt of one row), ``X-Townhall-Attempt`` and
``X-Townhall-Event``.

Unless ``allow_private_webhook_targets``, each attempt resolves the target's host, refuses it
when an address is not public (a failed attempt, retried as any) and sends the request to the
address it checked (``townhall.jobs.webhooks``: SSRF).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlalchemy import and_, case, delete, func, insert, select, update

from townhall.core.clock import new_id, now
from townhall.jobs.tables import outbox, webhook_deliveries, webhook_subscriptions
from townhall.jobs.webhooks import ACTIVE, DELIVERED, PAUSED, PENDING, TargetRefused, checked_addresses, pinned

if TYPE_CHECKING:
    from townhall.config import ForumSettings
    from townhall.container import Container

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500
PRUNE_EVERY = 300.0  # seconds between removals of old delivered rows


MAX_BACKOFF_EXPONENT = 32  # 2**32 backoffs are past any max_backoff; a bigger power only overflows


def sign(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """The signature header value over ``<timestamp>.<delivery id>.<body>``."""
    message = timestamp.encode() + b"." + delivery_id.encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, delivery_id: str, body: bytes, signature: str, *,
           tolerance: float | None = 300.0) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (replays refused).
    Any header value (non-ASCII included) is an answer, never an exception."""
    if tolerance is not None:
        try:
            if abs(time.time() - int(timestamp)) > tolerance:
                return False
        except ValueError:
            return False
    try:
        expected = sign(secret, timestamp, delivery_id, body).encode()
        given = signature.encode()
    except UnicodeEncodeError:  # lone surrogates
        return False
    return hmac.compare_digest(expected, given)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    subscription_id: int
    delivery_id: str
    event: str
    body: dict[str, Any]
    attempts: int
    target_url: str
    secret: str
    token: str


@dataclass(frozen=True, slots=True)
class _Result:
    row: _Claimed
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class OutboxWorker:
    def __init__(self, container: Container, settings: ForumSettings | None = None,
                 http: httpx.AsyncClient | None = None) -> None:
        self.container = container
        self.settings = settings or container.settings.forum
        self._http = http
        self._owns_http = http is None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._next_prune = 0.0

    # -- lifecycle

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="outbox-worker")
            self.container.outbox_listeners.append(self.wake)

    async def close(self) -> None:
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(ValueError):
            self.container.outbox_listeners.remove(self.wake)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    def wake(self) -> None:
        """Look at the outbox now (something was just written to it)."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + PRUNE_EVERY
                    await self.prune()
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly unavailable: try again later
                log.exception("outbox worker round failed")
                busy = 0
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.worker_poll_interval)

    async def run_once(self) -> int:
        """Claim a batch, deliver it, record the results: the number of rows handled."""
        claimed = await self._claim()
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._deliver(row) for row in claimed))
        await self._record(results)
        return len(claimed)

    async def prune(self) -> int:
        """Remove delivered rows (and their delivery log) older than the retention period."""
        before = now() - timedelta(days=self.settings.webhook_retention_days)
        async with self.container.uow() as uow:
            old = select(outbox.c.id).where(outbox.c.status == DELIVERED, outbox.c.delivered_at < before)
            await uow.conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.outbox_id.in_(old)))
            result = await uow.conn.execute(delete(outbox).where(outbox.c.status == DELIVERED,
                                                                 outbox.c.delivered_at < before))
        return int(result.rowcount or 0)

    # -- the three steps

    async def _claim(self) -> list[_Claimed]:
        stamp = now()
        token = new_id()
        lease_until = stamp + timedelta(seconds=self.settings.worker_lease)
        due = (
            select(outbox.c.id)
            .join(webhook_subscriptions, webhook_subscriptions.c.id == outbox.c.subscription_id)
            .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= stamp, outbox.c.claimed_until < stamp,
                   webhook_subscriptions.c.status == ACTIVE)
            .order_by(outbox.c.id)
            .limit(self.settings.worker_batch)
        )
        async with self.container.uow() as uow:
            if uow.conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True, of=outbox)
            # The lease is re-checked by the UPDATE itself: of two workers racing for a row, one wins.
            await uow.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(due.scalar_subquery()), outbox.c.claimed_until < stamp,
                       outbox.c.status == PENDING)
                .values(claimed_until=lease_until, claim_token=token)
            )
            rows = (await uow.conn.execute(
                select(outbox, webhook_subscriptions.c.target_url, webhook_subscriptions.c.secret)
                .join(webhook_subscriptions, webhook_subscriptions.c.id == outbox.c.subscription_id)
                .where(outbox.c.claim_token == token).order_by(outbox.c.id)
            )).mappings().all()
        return [_Claimed(id=r["id"], subscription_id=r["subscription_id"], delivery_id=r["delivery_id"],
                         event=r["event"], body=r["body"], attempts=r["attempts"], target_url=r["target_url"],
                         secret=r["secret"], token=token) for r in rows]

    async def _deliver(self, row: _Claimed) -> _Result:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        body = orjson.dumps({"event": row.event, "job_id": row.id, "entities": row.body.get("entities", {})})
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "townhall-webhooks",
            "X-Townhall-Event": row.event,
            "X-Townhall-Delivery": row.delivery_id,
            "X-Townhall-Attempt": str(row.attempts + 1),
            "X-Townhall-Timestamp": timestamp,
            "X-Townhall-Signature": sign(row.secret, timestamp, row.delivery_id, body),
        }
        started = time.perf_counter()
        limit = self.settings.webhook_timeout
        try:
            # httpx's timeout bounds each read, not the request: a receiver dripping its answer would
            # keep the delivery open past the lease (and another worker would send the row again).
            # The whole attempt (resolving the target included) is bounded here, and the answer's
            # body is never read.
            async with asyncio.timeout(limit):
                url: str | httpx.URL = row.target_url
                extensions: dict[str, Any] = {}
                if not self.settings.allow_private_webhook_targets:
                    # Resolved and checked now (DNS may have changed since the subscription), and
                    # sent to the address checked, not to whatever a second lookup would answer.
                    address = (await checked_addresses(row.target_url))[0]
                    url, host_header, extensions = pinned(row.target_url, address)
                    headers.update(host_header)
                async with self._http.stream("POST", url, content=body, headers=headers, timeout=limit,
                                             extensions=extensions) as response:
                    status_code = response.status_code
        except TargetRefused as exc:
            return _Result(row, False, None, f"refused target: {exc}"[:MAX_ERROR_LENGTH], _ms(started))
        except (TimeoutError, httpx.TimeoutException):
            return _Result(row, False, None, "timeout", _ms(started))
        except httpx.HTTPError as exc:
            return _Result(row, False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH], _ms(started))
        ok = 200 <= status_code < 300
        error = None if ok else f"HTTP {status_code}"
        return _Result(row, ok, status_code, error, _ms(started))

    async def _record(self, results: list[_Result]) -> None:
        stamp = now()
        async with self.container.uow() as uow:
            for result in results:
                row = result.row
                attempt = row.attempts + 1
                await uow.conn.execute(insert(webhook_deliveries).values(
                    subscription_id=row.subscription_id, outbox_id=row.id, attempt=attempt,
                    outcome=DELIVERED if result.ok else "failed", status_code=result.status_code,
                    error=result.error, duration_ms=result.duration_ms, created_at=stamp))
                subs = webhook_subscriptions.c
                if result.ok:
                    await uow.conn.execute(update(outbox).where(outbox.c.id == row.id).values(
                        status=DELIVERED, delivered_at=stamp, attempts=attempt, claim_token=None, last_error=None))
                    await uow.conn.execute(update(webhook_subscriptions).where(subs.id == row.subscription_id)
                                           .values(failures=0, failing_since=None))
                    continue
                exponent = min(row.attempts, MAX_BACKOFF_EXPONENT)
                delay = min(self.settings.webhook_backoff * 2 ** exponent, self.settings.webhook_max_backoff)
                # Only if the row is still ours: a worker whose lease ran out must not undo a delivery.
                await uow.conn.execute(
                    update(outbox).where(outbox.c.id == row.id, outbox.c.status == PENDING,
                                         outbox.c.claim_token == row.token)
                    .values(attempts=attempt, next_attempt_at=stamp + timedelta(seconds=delay),
                            claimed_until=stamp, claim_token=None, last_error=result.error))
                failing_for = timedelta(seconds=self.settings.webhook_pause_after_seconds)
                pause = and_(subs.status == ACTIVE, subs.failures + 1 >= self.settings.webhook_pause_after,
                             subs.failing_since.is_not(None), subs.failing_since <= stamp - failing_for)
                await uow.conn.execute(
                    update(webhook_subscriptions).where(subs.id == row.subscription_id).values(
                        failures=subs.failures + 1,
                        failing_since=func.coalesce(subs.failing_since, stamp),
                        status=case((pause, PAUSED), else_=subs.status),
                        paused_at=case((pause, stamp), else_=subs.paused_at)))
                log.info("webhook delivery failed", extra={"outbox_id": row.id, "attempt": attempt,
                                                           "error": result.error, "retry_in": delay})


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
