"""Chat fan-out latency: M WebSocket watchers on one channel, one sender at a fixed rate.

Starts a real ``townhall serve`` (fresh data dir, rate limiting off), creates M users (batches of
100) and one channel with all of them as members, then opens M WebSockets from this one asyncio
process (``/chat/connect``), waits for each connection's first ``health.check`` frame (it carries the
``connection_id``) and makes every connection watch the channel (``POST .../query`` with
``watch: true``). Once the setup events have died down, a sender posts K messages at a fixed rate
through the REST API, each carrying its send time in a custom field (``bench_sent_at``). Every
watcher timestamps each ``message.new`` frame on arrival; latency = arrival - ``bench_sent_at``, so it
covers the whole path: HTTP request, durable write, event, fan-out, WebSocket frame.

To keep the client from skewing the figures, its sockets are a minimal WebSocket client
(``RawWebSocket``, on uvloop): each frame is timestamped and scanned with a regex where it is read
(no task per socket, no JSON parsing per frame). The client shares the machine with the server:
compare figures within one machine.

Prints ONE JSON line on stdout; progress goes to stderr.

    python bench/chat_fanout.py [--watchers 1000] [--messages 200] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import statistics
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import (  # noqa: E402
    Server,
    cpu_seconds,
    log,
    machine_cpu_seconds,
    running_server,
    start_profiler,
    wait_for_quiet_machine,
)

CHANNEL_ID = "bench-fanout"
SENDER_ID = "bench-fanout-sender"
# Users, members, connections and watch queries together. Each new watcher's user.watching.start
# goes to every earlier watcher, so setup grows with the square of --watchers.
SETUP_BASE_S = 120.0
SETUP_PER_WATCHER_S = 0.5
QUIET_S = 1.0  # setup is over once no frame arrived for this long (watching.start storms)
QUIET_MAX_S = 60.0

MESSAGE_NEW = re.compile(rb'"type":"message\.new"')
MESSAGE_ID = re.compile(rb'"id":"fanout-(\d+)"')
SENT_AT = re.compile(rb'"bench_sent_at":([0-9.eE+-]+)')


@dataclass
class Watcher:
    user_id: str
    ws: RawWebSocket | None = None
    connection_id: str = ""
    # (message number, latency in seconds) for each message.new of this run
    deliveries: list[tuple[int, float]] = field(default_factory=list)
    frames: int = 0
    deflate: bool = False  # permessage-deflate negotiated


@dataclass
class RunState:
    """Shared state of the readers: whether the measured run has begun, when a frame last came."""

    recording: bool = False
    last_frame: float = field(default_factory=time.monotonic)
    unparsed: int = 0  # message.new frames without the fields this benchmark put in
    watching: int = 0  # watchers whose watch query succeeded


class RawWebSocket(asyncio.Protocol):
    """A minimal WebSocket client (RFC 6455) for many sockets in one process: frames are parsed in
    ``data_received`` and timestamped there, with no task, queue or copy per frame. The websockets
    library costs about 35 µs per received frame here, so 1,000 watchers took the client ~35 ms per
    message on top of the server's own time; this takes a few µs. It answers pings, offers
    permessage-deflate when asked to (and refuses to go on if the server accepts it: frames would
    be compressed), and never fragments."""

    def __init__(self, watcher: Watcher, state: RunState, request: bytes, offer_deflate: bool) -> None:
        self.watcher = watcher
        self.state = state
        self.request = request
        self.offer_deflate = offer_deflate
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.hello: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.hello.done():
            self.hello.set_exception(ConnectionError(f"closed before the first frame: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        buffer = self.buffer
        buffer += data
        if not self.upgraded and not self._upgrade():
            return
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, start = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            self._on_frame(first & 0x0F, payload, arrived)

    def _upgrade(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        if not head.startswith("HTTP/1.1 101"):
            self._fail(RuntimeError(f"{self.watcher.user_id}: no upgrade: {head.splitlines()[0]}"))
            return False
        self.watcher.deflate = "permessage-deflate" in head.lower()
        if self.watcher.deflate:
            self._fail(RuntimeError("the server accepted permessage-deflate, which this client cannot read"))
            return False
        self.upgraded = True
        return True

    def _fail(self, exc: Exception) -> None:
        if not self.hello.done():
            self.hello.set_exception(exc)
        assert self.transport is not None
        self.transport.close()

    def _on_frame(self, opcode: int, payload: bytes, arrived: float) -> None:
        if opcode == 0x9:  # ping
            self.send(0xA, payload)
            return
        if opcode == 0x8:  # close
            assert self.transport is not None
            self.transport.close()
            return
        if opcode not in (0x1, 0x2):
            return
        if not self.hello.done():
            self.hello.set_result(payload)
        watcher, state = self.watcher, self.state
        state.last_frame = time.monotonic()
        watcher.frames += 1
        if not state.recording or not MESSAGE_NEW.search(payload):
            return
        number, sent_at = MESSAGE_ID.search(payload), SENT_AT.search(payload)
        if number is None or sent_at is None:
            state.unparsed += 1
            return
        watcher.deliveries.append((int(number.group(1)), arrived - float(sent_at.group(1))))

    def send(self, opcode: int, payload: bytes) -> None:
        """A masked frame (clients must mask), payloads under 126 bytes only (pong, close)."""
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:125]))
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(masked))) + mask + masked)

    async def close(self) -> None:
        self.send(0x8, (1000).to_bytes(2, "big"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), 2)
        if self.transport is not None:
            self.transport.close()


async def open_socket(url: str, watcher: Watcher, state: RunState, deflate: bool) -> RawWebSocket:
    parts = urllib.parse.urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path}?{parts.query} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: RawWebSocket(watcher, state, request, deflate), parts.hostname, parts.port
    )
    return protocol


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log(f"fd limit {target} < {needed}: some WebSockets may fail to open")


async def api(
    client: httpx.AsyncClient, server: Server, path: str, body: dict[str, Any],
    token: str | None = None, params: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    response = await client.post(
        f"{server.base_url}/chat{path}",
        params={"api_key": server.api_key, **(params or {})},
        headers={"Authorization": token or server.server_token(), "stream-auth-type": "jwt"},
        json=body,
    )
    if response.status_code >= 300:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
    result: dict[str, Any] = response.json()
    return result


async def create_channel(client: httpx.AsyncClient, server: Server, user_ids: list[str]) -> None:
    for start in range(0, len(user_ids), 100):
        batch = user_ids[start : start + 100]
        await api(client, server, "/users", {"users": {u: {"id": u, "name": u} for u in batch}})
    await api(client, server, f"/channels/messaging/{CHANNEL_ID}/query",
              {"data": {"created_by_id": SENDER_ID, "members": [SENDER_ID]}})  # fmt: skip
    members = [u for u in user_ids if u != SENDER_ID]
    for start in range(0, len(members), 100):
        await api(client, server, f"/channels/messaging/{CHANNEL_ID}",
                  {"add_members": members[start : start + 100]})  # fmt: skip


async def open_watcher(
    watcher: Watcher, server: Server, client: httpx.AsyncClient, state: RunState,
    gate: asyncio.Semaphore, deflate: bool,
) -> None:  # fmt: skip
    token = server.user_token(watcher.user_id)
    params = {
        "json": json.dumps({
            "user_id": watcher.user_id,
            "user_details": {"id": watcher.user_id},
            "client_request_id": f"bench-{watcher.user_id}",
        }),
        "api_key": server.api_key,
        "authorization": token,
        "stream-auth-type": "jwt",
    }  # fmt: skip
    url = f"{server.ws_url}/chat/connect?{urllib.parse.urlencode(params)}"
    async with gate:
        # No client pings: the run is short, and 1000 sockets pinging is load of its own.
        watcher.ws = await asyncio.wait_for(open_socket(url, watcher, state, deflate), 60)
        hello = json.loads(await asyncio.wait_for(watcher.ws.hello, 60))
        if hello.get("type") != "health.check" or not hello.get("connection_id"):
            raise RuntimeError(f"{watcher.user_id}: first frame is not a health.check: {hello}")
        watcher.connection_id = hello["connection_id"]
        await api(client, server, f"/channels/messaging/{CHANNEL_ID}/query",
                  {"watch": True, "state": True, "messages": {"limit": 0}},
                  token=token, params={"connection_id": watcher.connection_id})  # fmt: skip
        state.watching += 1
        if state.watching % 100 == 0:
            log(f"{state.watching} watchers watching")


async def wait_quiet(state: RunState) -> None:
    deadline = time.monotonic() + QUIET_MAX_S
    while time.monotonic() < deadline and time.monotonic() - state.last_frame < QUIET_S:
        await asyncio.sleep(0.1)


async def send_messages(
    client: httpx.AsyncClient, server: Server, count: int, rate: float
) -> tuple[int, list[float]]:
    """Post ``count`` messages at ``rate``/s (each in its own task, so a slow answer never delays
    the next send). Returns how many were acknowledged and the send latencies."""
    acked = 0
    send_ms: list[float] = []

    async def send(number: int) -> None:
        nonlocal acked
        started = time.time()
        message = {"id": f"fanout-{number}", "text": f"fan-out {number}", "bench_sent_at": started}
        await api(client, server, f"/channels/messaging/{CHANNEL_ID}/message",
                  {"message": message, "user_id": SENDER_ID})  # fmt: skip
        acked += 1
        send_ms.append((time.time() - started) * 1000)

    start = time.monotonic()
    tasks = []
    for number in range(count):
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(number)))
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            log(f"send failed: {outcome!r}")
    return acked, send_ms


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def run(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    watchers = [Watcher(f"bench-watcher-{i}") for i in range(args.watchers)]
    state = RunState()
    # Idle connections expire before uvicorn's 5 s keep-alive closes them under a request.
    limits = httpx.Limits(max_connections=args.connect_concurrency, keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        try:
            async with asyncio.timeout(SETUP_BASE_S + SETUP_PER_WATCHER_S * len(watchers)):
                started = time.monotonic()
                await create_channel(client, server, [SENDER_ID] + [w.user_id for w in watchers])
                log(f"{len(watchers)} users and members in {time.monotonic() - started:.1f} s")
                started = time.monotonic()
                gate = asyncio.Semaphore(args.connect_concurrency)
                await asyncio.gather(
                    *(open_watcher(w, server, client, state, gate, args.deflate) for w in watchers)
                )
                setup_s = time.monotonic() - started
                log(f"{len(watchers)} watchers connected and watching in {setup_s:.1f} s")
                await wait_quiet(state)
                setup_frames = sum(w.frames for w in watchers)

            state.recording = True
            log(f"sending {args.messages} messages at {args.rate}/s")
            profiler = None
            if args.py_spy:
                args.py_spy.parent.mkdir(parents=True, exist_ok=True)
                profiler = start_profiler(server, args.py_spy, args.messages / args.rate)
            pids = server.pids()
            cpu_before, client_before, wall_before = cpu_seconds(pids), process_cpu(), time.monotonic()
            machine_before = machine_cpu_seconds()
            acked, send_ms = await send_messages(client, server, args.messages, args.rate)
            expected = acked * len(watchers)
            deadline = time.monotonic() + args.drain_seconds
            while sum(len(w.deliveries) for w in watchers) < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            state.recording = False
            wall = time.monotonic() - wall_before
            server_cpu, client_cpu = cpu_seconds(pids) - cpu_before, process_cpu() - client_before
            other_cpu = machine_cpu_seconds() - machine_before - server_cpu - client_cpu
            if profiler is not None:
                await asyncio.to_thread(profiler.wait, 60)
        finally:
            await asyncio.gather(
                *(w.ws.close() for w in watchers if w.ws is not None), return_exceptions=True
            )

    latencies = sorted(latency * 1000 for w in watchers for _, latency in w.deliveries)
    unique = sum(len({number for number, _ in w.deliveries}) for w in watchers)
    if state.unparsed:
        log(f"{state.unparsed} message.new frames without fanout id or bench_sent_at")
    send_ms.sort()
    # Per message: when the first watcher had it, and how long until the last one had it.
    by_message: dict[int, list[float]] = {}
    for w in watchers:
        for number, latency in w.deliveries:
            by_message.setdefault(number, []).append(latency * 1000)
    first = sorted(min(arrivals) for arrivals in by_message.values())
    slowest = max(by_message, key=lambda number: min(by_message[number]), default=None)
    spread = sorted(max(arrivals) - min(arrivals) for arrivals in by_message.values())
    return {
        "bench": "chat_fanout",
        "watchers": len(watchers),
        "messages": args.messages,
        "deliveries": unique,
        "missing": args.messages * len(watchers) - unique,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,
        "duplicates": len(latencies) - unique,
        "acked": acked,
        "rate_per_s": args.rate,
        "first_p50_ms": round(percentile(first, 0.50), 2),  # the first watcher of each message
        "first_max_ms": round(first[-1], 2) if first else 0.0,
        "first_max_message": slowest,  # which message (0 = the first sent) took first_max_ms
        "spread_p50_ms": round(percentile(spread, 0.50), 2),  # first to last watcher, per message
        "spread_max_ms": round(spread[-1], 2) if spread else 0.0,
        "deflate": any(w.deflate for w in watchers),  # offered unless --no-deflate; used?
        "send_p50_ms": round(percentile(send_ms, 0.50), 2),
        "send_p99_ms": round(percentile(send_ms, 0.99), 2),
        "setup_s": round(setup_s, 1),
        "setup_frames": setup_frames,  # mostly user.watching.start, O(watchers²)
        "phase_s": round(wall, 2),  # from the first send to the last delivery (or the drain limit)
        "server_cpu_pct": round(100 * server_cpu / wall, 1),  # of one core, during that phase
        "client_cpu_pct": round(100 * client_cpu / wall, 1),
        "other_cpu_pct": round(max(0.0, 100 * other_cpu / wall), 1),  # the rest of the machine
        "database": server.database,
        "workers": server.workers,
    }


def asyncio_run(coro: Any) -> Any:
    """uvloop when it is installed (it is a townhall dependency): the client reads frames faster."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=1000, help="WebSockets (default 1000)")
    parser.add_argument("--messages", type=int, default=200, help="messages sent (default 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second (default 20)")
    parser.add_argument("--drain-seconds", type=float, default=10.0,
                        help="wait for late deliveries after the last send (default 10)")  # fmt: skip
    parser.add_argument("--connect-concurrency", type=int, default=50,
                        help="WebSockets opened at once during setup (default 50)")  # fmt: skip
    parser.add_argument(
        "--no-deflate", dest="deflate", action="store_false",
        help="do not offer permessage-deflate (browsers and Node's ws offer it, as this does by default)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite (see chat_send.py)")
    parser.add_argument("--py-spy", type=Path, metavar="FILE",
                        help="record the server with py-spy while sending (collapsed stacks)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="first wait up to this long for other work on the machine to stop")
    args = parser.parse_args()
    if not 1 <= args.watchers <= 20_000 or not 1 <= args.messages <= 100_000 or args.rate <= 0:
        parser.error("--watchers must be 1..20000, --messages 1..100000 and --rate > 0")
    # The server inherits the limit too: it holds one socket per watcher as well.
    raise_fd_limit(2 * args.watchers + 256)
    background = wait_for_quiet_machine(args.wait_quiet)
    with running_server(workers=args.workers, database_url=args.database_url) as server:
        result = {**asyncio_run(run(args, server)), "background_cores": round(background, 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
