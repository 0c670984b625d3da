"""REST hook subscriptions and the outbox rows they receive.

An event is written to the outbox (one row per subscription that wants it) in the SAME
transaction as the change that caused it (DESIGN rule 5); the worker (``townhall.jobs.worker``)
delivers the rows at least once. Subscriptions belong to a surface (``forum``, ...), which
names the events it offers and shapes their entities.

Targets are refused when their host is, or resolves to, an address that is not public (loopback,
private, link-local, multicast, reserved, unspecified, shared; IPv4 inside IPv6 forms included):
a subscription must not turn the server into a proxy for its own network (SSRF). Checked at
subscription time and again at each delivery, where the request then goes to the very address
checked (DNS may answer differently the second time). ``forum.allow_private_webhook_targets``
lifts the rule (receivers on the same network, tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from townhall.core.clock import new_id, now
from townhall.core.errors import Invalid, NotFound
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.jobs.tables import outbox, webhook_deliveries, webhook_subscriptions

ACTIVE, PAUSED, DELETED = "active", "paused", "deleted"
PENDING, DELIVERED = "pending", "delivered"
MAX_URL_LENGTH = 2000
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    surface: str
    target_url: str
    events: list[str]
    secret: str
    status: str
    failures: int
    created_by: str | None
    created_at: datetime
    paused_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    outbox_id: int
    event: str
    delivery_id: str
    attempt: int
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: datetime


def _subscription(row: RowMapping) -> Subscription:
    return Subscription(id=row["id"], surface=row["surface"], target_url=row["target_url"], events=list(row["events"]),
                        secret=row["secret"], status=row["status"], failures=row["failures"],
                        created_by=row["created_by"], created_at=row["created_at"], paused_at=row["paused_at"])


def _parse(url: str) -> httpx.URL | None:
    """The URL as the deliveries read it (the host checked is the host sent to), None if it is
    not an http(s) URL with a host and a valid port."""
    try:
        parsed = httpx.URL(url)
        scheme, host, port = parsed.scheme, parsed.host, parsed.port
    except (httpx.InvalidURL, UnicodeError, ValueError):  # IDNA errors are UnicodeErrors
        return None
    if scheme not in ("http", "https") or not host or (port is not None and not 0 < port < 65536):
        return None
    return parsed


def check_target_url(url: Any) -> str:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or _parse(url) is None:
        raise Invalid("invalid_target_url", "target_url must be an http(s) URL", field="target_url")
    return url


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(Exception):
    """A target whose host does not resolve, or resolves to an address that is not public."""


def is_public_address(address: IPAddress) -> bool:
    """Whether a webhook may be sent to ``address``: a global unicast address, judged on the IPv4
    address an IPv6 one carries (IPv4-mapped, 6to4, Teredo, NAT64) when it carries one."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if carried is None and address in _NAT64:
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            return is_public_address(carried)
    return address.is_global and not (
        address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` (a name or a literal address) stands for, in the resolver's order."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # socket.gaierror is an OSError
        raise TargetRefused(f"the host {host} does not resolve") from exc
    found: dict[IPAddress, None] = {}
    for info in infos:
        found[ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])] = None  # without an IPv6 zone
    return list(found)


async def checked_addresses(url: str) -> list[IPAddress]:
    """The addresses a target URL's host resolves to, all of them public; TargetRefused otherwise
    (one private address among public ones is refused too: the name is not to be trusted)."""
    parsed = _parse(url)
    if parsed is None:
        raise TargetRefused("the target is not an http(s) URL with a host")
    addresses = await resolve(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    refused = [str(a) for a in addresses if not is_public_address(a)]
    if refused or not addresses:
        raise TargetRefused(f"the host {parsed.host} is not a public address ({', '.join(refused) or 'none'})")
    return addresses


def pinned(url: str, address: IPAddress) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """``(url, headers, extensions)`` sending a request for ``url`` to ``address``: the URL names the
    address, ``Host`` and (https) the TLS server name stay the URL's host, so virtual hosts and
    certificate checks work as with the name."""
    parsed = httpx.URL(url)
    if parsed.host == str(address):
        return parsed, {}, {}
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return parsed.copy_with(host=str(address)), {"Host": parsed.netloc.decode("ascii")}, extensions


async def check_reachable_target(url: str, *, allow_private: bool, timeout: float) -> None:
    """Refuse (Invalid) a target that is not public, unless ``allow_private``. A network call:
    never inside a unit of work."""
    if allow_private:
        return
    try:
        async with asyncio.timeout(timeout):
            await checked_addresses(url)
    except TimeoutError as exc:
        raise Invalid("invalid_target_url", "target_url's host did not resolve in time", field="target_url") from exc
    except TargetRefused as exc:
        raise Invalid("forbidden_target_url", f"target_url is not allowed: {exc}", field="target_url") from exc


def check_events(events: Any, offered: Collection[str]) -> list[str]:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise Invalid("invalid_events", "events must be a non-empty list of event names", field="events")
    unknown = sorted(set(events) - set(offered))
    if unknown:
        raise Invalid("unknown_events", f"unknown event(s): {', '.join(unknown)}; offered: {', '.join(offered)}",
                      field="events")
    return list(dict.fromkeys(events))


async def do_subscribe(uow: UnitOfWork, surface: str, target_url: str, events: Sequence[str],
                       created_by: str | None) -> Subscription:
    stamp = now()
    new = (await uow.conn.execute(
        insert(webhook_subscriptions).values(
            surface=surface, target_url=target_url, events=list(events), secret=secrets.token_hex(32),
            status=ACTIVE, failures=0, created_by=created_by, created_at=stamp,
        ).returning(webhook_subscriptions.c.id)
    )).scalar_one()
    return await access_subscription(uow.conn, surface, new)


async def access_subscription(conn: Connection, surface: str, subscription_id: int) -> Subscription:
    row = (await conn.execute(select(webhook_subscriptions).where(
        webhook_subscriptions.c.id == subscription_id, webhook_subscriptions.c.surface == surface,
        webhook_subscriptions.c.status != DELETED))).mappings().first()
    if row is None:
        raise NotFound("subscription_not_found", f"webhook subscription {subscription_id} does not exist")
    return _subscription(row)


async def list_subscriptions(conn: Connection, surface: str, *, limit: int, offset: int) -> list[Subscription]:
    rows = (await conn.execute(
        select(webhook_subscriptions)
        .where(webhook_subscriptions.c.surface == surface, webhook_subscriptions.c.status != DELETED)
        .order_by(webhook_subscriptions.c.id).limit(limit).offset(offset)
    )).mappings()
    return [_subscription(r) for r in rows]


async def do_unsubscribe(uow: UnitOfWork, surface: str, subscription_id: int) -> None:
    """The subscription goes, and with it the events still waiting for it (nobody will deliver
    them); delivered rows stay until the worker prunes them."""
    await access_subscription(uow.conn, surface, subscription_id)
    await uow.conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
                           .values(status=DELETED, deleted_at=now()))
    waiting = select(outbox.c.id).where(outbox.c.subscription_id == subscription_id, outbox.c.status == PENDING)
    await uow.conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.outbox_id.in_(waiting)))
    await uow.conn.execute(delete(outbox).where(outbox.c.subscription_id == subscription_id,
                                                outbox.c.status == PENDING))


async def do_resume(uow: UnitOfWork, surface: str, subscription_id: int) -> Subscription:
    """A paused subscription delivers again, starting with everything kept for it meanwhile."""
    await access_subscription(uow.conn, surface, subscription_id)
    stamp = now()
    await uow.conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
                           .values(status=ACTIVE, failures=0, failing_since=None, paused_at=None))
    await uow.conn.execute(update(outbox).where(outbox.c.subscription_id == subscription_id,
                                                outbox.c.status == PENDING).values(next_attempt_at=stamp))
    return await access_subscription(uow.conn, surface, subscription_id)


async def list_deliveries(conn: Connection, surface: str, subscription_id: int, *, limit: int,
                          offset: int) -> list[Delivery]:
    await access_subscription(conn, surface, subscription_id)
    stmt = (
        select(webhook_deliveries, outbox.c.event, outbox.c.delivery_id)
        .join(outbox, outbox.c.id == webhook_deliveries.c.outbox_id)
        .where(webhook_deliveries.c.subscription_id == subscription_id)
        .order_by(webhook_deliveries.c.id.desc()).limit(limit).offset(offset)
    )
    return [Delivery(id=r["id"], outbox_id=r["outbox_id"], event=r["event"], delivery_id=r["delivery_id"],
                     attempt=r["attempt"], outcome=r["outcome"], status_code=r["status_code"], error=r["error"],
                     duration_ms=r["duration_ms"], created_at=r["created_at"])
            for r in (await conn.execute(stmt)).mappings()]


async def pending_count(conn: Connection, subscription_id: int) -> int:
    return int((await conn.execute(select(func.count()).select_from(outbox).where(
        outbox.c.subscription_id == subscription_id, outbox.c.status == PENDING))).scalar_one())


async def enqueue(uow: UnitOfWork, surface: str, event: str, entities: Mapping[str, list[dict[str, Any]]]) -> int:
    """Write ``event`` for every active or paused subscription of ``surface`` that wants it, in
    the caller's transaction. Returns the number of rows written."""
    subs = (await uow.conn.execute(select(webhook_subscriptions.c.id, webhook_subscriptions.c.events).where(
        webhook_subscriptions.c.surface == surface,
        webhook_subscriptions.c.status.in_((ACTIVE, PAUSED))))).all()
    stamp = now()
    rows = [
        {"subscription_id": sub_id, "delivery_id": new_id(), "event": event,
         "body": {"event": event, "entities": dict(entities)}, "status": PENDING, "attempts": 0,
         "next_attempt_at": stamp, "claimed_until": _EPOCH, "created_at": stamp}
        for sub_id, wanted in subs if event in (wanted or [])
    ]
    if rows:
        await uow.conn.execute(insert(outbox), rows)
    return len(rows)
