"""Chat send cost without the network: the ASGI app called in-process, CPU (or instructions) per message.

``chat_send.py`` measures the real server, but on a shared 2-core machine its figures move ±20%
from one run to the next, too much to see a 5% change. This bench builds the app as
``townhall serve`` does (fresh data dir, SQLite, rate limiting off), drives it through its ASGI
interface with N concurrent senders posting to one channel (no sockets, no uvicorn), and reports
the process's CPU time per message for each round; compare the cheapest rounds of two checkouts.

Under valgrind it counts instructions instead, which do not depend on what else the machine does
(``--callgrind``: instrumentation is switched on for the measured rounds only, with
``callgrind_control``)::

    python bench/chat_send_inprocess.py --messages 3000 --rounds 3
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \\
        python bench/chat_send_inprocess.py --messages 1000 --rounds 1 --callgrind
    # then: instructions per message = "Collected" (valgrind's summary) / "measured_messages"

Prints ONE JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SENDERS = 20
WARMUP_PER_SENDER = 50


async def call(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]], query: bytes) -> tuple[int, bytes]:
    """One HTTP request through the ASGI interface: (status, body)."""
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query,
             "headers": [*headers, (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    await app(scope, receive, send)
    return status, b"".join(chunks)


def prepare() -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Migrate the fresh database (before the event loop runs); the server's request headers and query."""
    import jwt

    from townhall.cli.common import migrate
    from townhall.config import Settings
    from townhall.credentials import load_or_create_credentials

    settings = Settings()
    migrate(settings, quiet=True)
    creds = load_or_create_credentials(settings)
    token = jwt.encode({"server": True}, creds.chat_api_secret, algorithm="HS256").encode()
    headers = [(b"host", b"127.0.0.1"), (b"authorization", token), (b"stream-auth-type", b"jwt"),
               (b"content-type", b"application/json")]
    return headers, b"api_key=" + creds.chat_api_key.encode()


async def run(args: argparse.Namespace, headers: list[tuple[bytes, bytes]], query: bytes) -> dict[str, Any]:
    import orjson

    from townhall.app import create_app_from_env

    app = create_app_from_env()
    lifespan: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()

    async def lifespan_send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await lifespan.put({"type": "lifespan.startup"})
    app_task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                       lifespan.get, lifespan_send))
    await started.wait()

    senders = [f"sender-{i}" for i in range(SENDERS)]
    for path, body in (("/chat/users", {"users": {u: {"id": u} for u in senders}}),
                       ("/chat/channels/messaging/bench/query", {"data": {"created_by_id": senders[0],
                                                                          "members": senders}})):
        status, answer = await call(app, path, orjson.dumps(body), headers, query)
        if status >= 300:
            raise RuntimeError(f"{path}: {status} {answer[:300]!r}")
    numbers = iter(range(10**9))

    async def sender(user: str, count: int) -> None:
        for _ in range(count):
            n = next(numbers)
            body = orjson.dumps({"message": {"id": f"m-{n}", "text": f"bench message {n}"}, "user_id": user})
            status, answer = await call(app, "/chat/channels/messaging/bench/message", body, headers, query)
            if status != 201:
                raise RuntimeError(f"send: {status} {answer[:300]!r}")

    await asyncio.gather(*(sender(u, WARMUP_PER_SENDER) for u in senders))
    per_sender = max(1, args.messages // SENDERS // args.rounds)
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    rounds = []
    for _ in range(args.rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(sender(u, per_sender) for u in senders))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rounds.append({"cpu_us_per_message": round(1e6 * cpu / (per_sender * SENDERS), 1),
                       "messages_per_s": round(per_sender * SENDERS / wall, 1)})
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
    await lifespan.put({"type": "lifespan.shutdown"})
    await app_task
    return {
        "bench": "chat_send_inprocess",
        "senders": SENDERS,
        "measured_messages": per_sender * SENDERS * args.rounds,
        "rounds": rounds,
        "min_cpu_us_per_message": min(r["cpu_us_per_message"] for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=6000, help="messages measured, all rounds (default 6000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--callgrind", action="store_true",
                        help="under valgrind --tool=callgrind --instr-atstart=no: count the measured rounds only")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 100 or not SENDERS <= args.messages <= 1_000_000:
        parser.error(f"--rounds must be 1..100 and --messages {SENDERS}..1000000")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's townhall
    with tempfile.TemporaryDirectory(prefix="townhall-bench-") as data_dir:
        os.environ.update(TOWNHALL_DATA_DIR=data_dir, TOWNHALL_CHAT__RATE_LIMIT_MULTIPLIER="0",
                          TOWNHALL_LOG_LEVEL="warning")
        for name in ("TOWNHALL_DATABASE_URL", "TOWNHALL_REDIS_URL"):
            os.environ.pop(name, None)
        import uvloop

        headers, query = prepare()
        result = uvloop.run(run(args, headers, query))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
