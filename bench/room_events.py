"""Room event fan-out latency: one room event to N PubNub long-poll subscribers.

Starts a real ``townhall serve`` (fresh data dir, SMS sends unthrottled), signs in N+1 users
through the Clubhouse API (phone codes read from the server's database, console SMS backend), has
one of them create a room and the others join it, each with its own ``pubnub_token``. Then, for
each subscriber count asked for (default 100 and 500), opens that many PubNub subscribers, each a
long-poll loop on the listener's channels (``users.<uid>``, ``channel_all.<ch>``,
``channel_user.<ch>.<uid>``) exactly as the PubNub SDKs do it: a handshake (``tt=0``), then
``/v2/subscribe`` with the last cursor. The moderator then sends R room events, one at a time
(``change_handraise_settings``, published on ``channel_all``), each once every subscriber has the
previous one. Latency = arrival at a subscriber - the time the moderator's request was sent: the
HTTP request, the commit, the event bus, the gateway and the long-poll answer.

Baseline in the same run, with nobody subscribed: the round trip of ``GET /time/0`` (the
gateway's cheapest answer) and of the moderator's request that makes an event, sequentially. Each
event is sent once every subscriber is back in a long-poll (the server's
``townhall_pubnub_subscribers`` gauge), so it is measured on its own. Subscribers use a minimal
HTTP/1.1 client (one kept-alive connection each): httpx's pool would cost more than the server.
The client shares the machine with the server: compare figures within one machine. SQLite only
(the sign-in codes are read from the server's database file). Prints ONE JSON line on stdout;
progress goes to stderr.

    .venv/bin/python bench/room_events.py [--subscribers 100,500] [--rounds 20] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import statistics
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import HOST, Server, cpu_seconds, log, running_server, wait_for_quiet_machine  # noqa: E402

API = "/social/api"
SUB_KEY = "sub-c-bench"
CONCURRENCY = 20  # sign-ins and joins in flight at once
SETUP_TIMEOUT_S = 600.0
ROUND_TIMEOUT_S = 30.0  # a round is over when every subscriber has its event, or after this
BASELINE_REQUESTS = 200
SIGN_INS_PER_ADDRESS = 50
CODE = re.compile(r"code is (\d+)")
WAITING = re.compile(r"^townhall_pubnub_subscribers ([0-9.e+]+)$", re.MULTILINE)
SETTLE_S = 1.0
SETTLE_MAX_S = 30.0
CONTENT_LENGTH = re.compile(rb"(?i)content-length: *(\d+)")


@dataclass
class Member:
    user_id: int
    auth_token: str
    pubnub_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.auth_token}", "CH-UserID": str(self.user_id)}


@dataclass
class Subscriber:
    member: Member
    channels: list[str]
    arrivals: dict[int, float] = field(default_factory=dict)  # round -> arrival (time.time())
    polls: int = 0


# Each round's event carries a marker: (is_enabled, handraise_permission), four in turn, so that a
# late arrival is never taken for the next round's.
MARKERS = [(True, 1), (True, 2), (False, 1), (False, 2)]


@dataclass
class RunState:
    expected: int  # subscribers
    round: int = 0  # the round under way
    sent_at: float = 0.0  # when its request went out
    arrived: int = 0  # subscribers that have its event
    done: asyncio.Event = field(default_factory=asyncio.Event)
    errors: int = 0

    def marker(self) -> tuple[bool, int]:
        return MARKERS[self.round % len(MARKERS)]


async def social(client: httpx.AsyncClient, server: Server, endpoint: str, body: dict[str, Any],
                 member: Member | None = None) -> dict[str, Any]:
    response = await client.post(f"{server.base_url}{API}/{endpoint}", json=body,
                                 headers=member.headers if member else None)
    data: dict[str, Any] = response.json()
    if response.status_code != 200 or data.get("success") is False:
        raise RuntimeError(f"{endpoint}: {response.status_code} {response.text[:300]}")
    return data


async def last_code(database: Any, phone: str) -> str:
    from townhall.core.accounts import signin

    async with database.read() as conn:
        found = await signin.last_sms(conn, phone)
    match = CODE.search(found[0]) if found else None
    if match is None:
        raise RuntimeError(f"no sign-in code for {phone}")
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, server: Server, database: Any, gate: asyncio.Semaphore) -> Member:
    phone = f"+1628{random.randint(2_000_000, 9_999_999)}"
    async with gate:
        await social(client, server, "start_phone_number_auth", {"phone_number": phone})
        code = await last_code(database, phone)
        done = await social(client, server, "complete_phone_number_auth",
                            {"phone_number": phone, "verification_code": code})
    return Member(user_id=done["user_profile"]["user_id"], auth_token=done["auth_token"])


async def setup(client: httpx.AsyncClient, server: Server, listeners: int) -> tuple[Member, str, list[Member]]:
    """The moderator, the room's code and the listeners (joined, with their pubnub tokens)."""
    from townhall.db.database import Database

    database = Database(f"sqlite+aiosqlite:///{(server.data_dir / 'townhall.db').resolve()}")
    gate = asyncio.Semaphore(CONCURRENCY)
    # The server lets one client address complete 60 sign-ins an hour: sign in from several
    # loopback addresses (127.0.0.10, .11, ...; Linux routes all of 127/8 to lo).
    count = listeners + 1
    addresses = [f"127.0.0.{10 + i}" for i in range((count + SIGN_INS_PER_ADDRESS - 1) // SIGN_INS_PER_ADDRESS)]
    clients = [httpx.AsyncClient(timeout=60, transport=httpx.AsyncHTTPTransport(local_address=a)) for a in addresses]
    try:
        started = time.monotonic()
        people = await asyncio.gather(*(sign_in(clients[i // SIGN_INS_PER_ADDRESS], server, database, gate)
                                        for i in range(count)))
        log(f"{len(people)} users signed in in {time.monotonic() - started:.1f} s")
    finally:
        await database.dispose()
        for one in clients:
            await one.aclose()
    moderator, members = people[0], list(people[1:])
    room = await social(client, server, "create_channel", {"topic": "bench", "is_private": False}, moderator)
    code = room["channel"]

    async def join(member: Member) -> None:
        async with gate:
            joined = await social(client, server, "join_channel", {"channel": code}, member)
        member.pubnub_token = joined["pubnub_token"]

    started = time.monotonic()
    await asyncio.gather(*(join(m) for m in members))
    log(f"{len(members)} listeners joined in {time.monotonic() - started:.1f} s")
    return moderator, code, members


class LongPoller:
    """A minimal HTTP/1.1 client on one kept-alive connection: httpx's pool costs more per request
    than the server does once hundreds of long-polls share it, and would measure the client."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = CONTENT_LENGTH.search(head)
        if length is None:
            raise RuntimeError(f"no content-length: {head[:200]!r}")
        return status, await self.reader.readexactly(int(length.group(1)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def subscribe_loop(server: Server, sub: Subscriber, state: RunState) -> None:
    """A PubNub SDK's subscribe loop: handshake, then long-polls with the last cursor."""
    path = f"/v2/subscribe/{SUB_KEY}/{','.join(sub.channels)}/0"
    params = {"uuid": str(sub.member.user_id), "auth": sub.member.pubnub_token, "tt": "0"}
    poller = LongPoller(HOST, server.port)
    try:
        while True:
            try:
                status, raw = await poller.get(f"{path}?{urllib.parse.urlencode(params)}")
            except (OSError, asyncio.IncompleteReadError) as exc:
                state.errors += 1
                log(f"subscriber {sub.member.user_id}: {exc!r}")
                poller.close()
                await asyncio.sleep(1)
                continue
            arrived = time.time()
            if status != 200:
                state.errors += 1
                raise RuntimeError(f"subscribe: {status} {raw[:300]!r}")
            body = json.loads(raw)
            sub.polls += 1
            params["tt"], params["tr"] = body["t"]["t"], str(body["t"]["r"])
            for entry in body["m"]:
                data = entry["d"]
                if (data.get("action") == "change_handraise_settings" and state.round not in sub.arrivals
                        and (data["is_enabled"], data["handraise_permission"]) == state.marker()):
                    sub.arrivals[state.round] = arrived
                    state.arrived += 1
                    if state.arrived == state.expected:
                        state.done.set()
    finally:
        poller.close()


async def settle(client: httpx.AsyncClient, server: Server, subscribers: int) -> None:
    """Wait until every subscriber is back in a long-poll (the server's gauge says so), so that each
    event is measured on its own and not behind the re-polls of the one before. With several
    workers /metrics speaks for one of them only: a fixed pause then."""
    if server.workers > 1:
        await asyncio.sleep(SETTLE_S)
        return
    deadline = time.monotonic() + SETTLE_MAX_S
    while time.monotonic() < deadline:
        text = (await client.get(f"{server.base_url}/metrics")).text
        waiting = WAITING.search(text)
        if waiting is not None and float(waiting.group(1)) >= subscribers:
            return
        await asyncio.sleep(0.02)
    log(f"not every subscriber was back in a long-poll after {SETTLE_MAX_S} s")


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def baseline(client: httpx.AsyncClient, server: Server, moderator: Member, code: str) -> dict[str, float]:
    """Sequential round trips with nobody subscribed: ``GET /time/0`` (the gateway's cheapest
    answer) and the moderator's request that makes each event (``change_handraise_settings``)."""
    times: list[float] = []
    for _ in range(BASELINE_REQUESTS):
        started = time.perf_counter()
        response = await client.get(f"{server.base_url}/time/0")
        response.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    requests: list[float] = []
    for number in range(BASELINE_REQUESTS // 4):
        is_enabled, permission = MARKERS[number % len(MARKERS)]
        started = time.perf_counter()
        await social(client, server, "change_handraise_settings",
                     {"channel": code, "is_enabled": is_enabled, "handraise_permission": permission}, moderator)
        requests.append((time.perf_counter() - started) * 1000)
    times.sort()
    requests.sort()
    return {"time_p50_ms": round(percentile(times, 0.5), 2), "time_p99_ms": round(percentile(times, 0.99), 2),
            "event_request_p50_ms": round(percentile(requests, 0.5), 2),
            "event_request_p99_ms": round(percentile(requests, 0.99), 2)}


async def fan_out(client: httpx.AsyncClient, server: Server, moderator: Member, code: str,
                  members: list[Member], rounds: int) -> dict[str, Any]:
    """N subscribers, R rounds of one event each; latency per (round, subscriber)."""
    state = RunState(expected=len(members))
    subs = [Subscriber(m, [f"users.{m.user_id}", f"channel_all.{code}", f"channel_user.{code}.{m.user_id}"])
            for m in members]
    tasks = [asyncio.create_task(subscribe_loop(server, s, state)) for s in subs]
    latencies: list[float] = []
    first: list[float] = []
    spread: list[float] = []
    missing = 0
    try:
        started = time.monotonic()
        while any(s.polls == 0 for s in subs):  # every subscriber has its cursor (handshake done)
            failed = [t for t in tasks if t.done()]
            if failed:
                await failed[0]
            if time.monotonic() - started > SETUP_TIMEOUT_S:
                raise RuntimeError("the subscribers did not all connect")
            await asyncio.sleep(0.05)
        await settle(client, server, len(subs))
        pids = server.pids()
        cpu_before, client_before, wall_before = cpu_seconds(pids), process_cpu(), time.monotonic()
        for number in range(1, rounds + 1):
            state.round, state.arrived = number, 0
            state.done.clear()
            is_enabled, permission = state.marker()
            state.sent_at = time.time()
            await social(client, server, "change_handraise_settings",
                         {"channel": code, "is_enabled": is_enabled, "handraise_permission": permission}, moderator)
            try:
                await asyncio.wait_for(state.done.wait(), ROUND_TIMEOUT_S)
            except TimeoutError:
                log(f"event {number}: {state.arrived}/{len(subs)} subscribers had it after {ROUND_TIMEOUT_S} s")
            these = sorted((s.arrivals[number] - state.sent_at) * 1000 for s in subs if number in s.arrivals)
            latencies += these
            missing += len(subs) - len(these)
            if these:
                first.append(these[0])
                spread.append(these[-1] - these[0])
            await settle(client, server, len(subs))
        wall = time.monotonic() - wall_before
        server_cpu, client_cpu = cpu_seconds(pids) - cpu_before, process_cpu() - client_before
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    first.sort()
    spread.sort()
    return {
        "subscribers": len(subs),
        "events": rounds,
        "deliveries": len(latencies),
        "missing": missing,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,
        "first_p50_ms": round(percentile(first, 0.50), 2),  # the first subscriber of each event
        "spread_p50_ms": round(percentile(spread, 0.50), 2),  # first to last subscriber, per event
        "spread_max_ms": round(spread[-1], 2) if spread else 0.0,
        "errors": state.errors,
        "server_cpu_ms_per_event": round(1000 * server_cpu / rounds, 1),  # the server's CPU time / events
        "client_cpu_ms_per_event": round(1000 * client_cpu / rounds, 1),  # this process's
        "phase_s": round(wall, 2),
    }


async def run(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    most = max(args.subscribers)
    # Idle connections expire before uvicorn's 5 s keep-alive closes them under a request.
    limits = httpx.Limits(max_connections=most + 50, max_keepalive_connections=most + 50, keepalive_expiry=2)
    timeout = httpx.Timeout(60.0, read=320.0)  # a long-poll lasts up to 280 s
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        moderator, code, members = await setup(client, server, most)
        base = await baseline(client, server, moderator, code)
        log(f"baseline: {base}")
        runs = []
        for count in args.subscribers:
            log(f"{count} subscribers, {args.rounds} events")
            runs.append(await fan_out(client, server, moderator, code, members[:count], args.rounds))
            log(f"{count} subscribers: {runs[-1]}")
    return {"bench": "room_events", "baseline": base, "runs": runs, "workers": server.workers,
            "database": server.database}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", default="100,500",
                        help="subscriber counts, comma-separated (default 100,500)")
    parser.add_argument("--rounds", type=int, default=20, help="events sent per subscriber count (default 20)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="first wait up to this long for other work on the machine to stop")
    args = parser.parse_args()
    try:
        args.subscribers = [int(n) for n in args.subscribers.split(",") if n.strip()]
    except ValueError:
        parser.error("--subscribers: numbers separated by commas")
    if not args.subscribers or not all(1 <= n <= 5000 for n in args.subscribers) or not 1 <= args.rounds <= 1000:
        parser.error("--subscribers must be 1..5000 each and --rounds 1..1000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * max(args.subscribers) + 256
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard),
                                                    hard))
    # Signing in hundreds of users from one address: lift the per-address SMS budget.
    os.environ["TOWNHALL_SOCIAL__SENDS_PER_ADDRESS_PER_HOUR"] = "1000000"
    background = wait_for_quiet_machine(args.wait_quiet)
    with running_server(workers=args.workers) as server:
        result = {**asyncio.run(run(args, server)), "background_cores": round(background, 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
