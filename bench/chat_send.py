"""Chat send throughput: N concurrent senders posting messages through the REST API.

Starts a real ``townhall serve`` (fresh data dir, rate limiting off), creates N users, then runs
three phases against it, all driven by ``wrk`` (a Python HTTP client cannot saturate the server):

1. baseline: ``GET /healthz`` for a few seconds, the framework ceiling of this run;
2. one channel: N senders (one wrk thread and one connection each) post to the same channel;
3. N channels: sender i posts to its own channel i.

Each sender sends ``POST /chat/channels/messaging/<id>/message`` with a server token and a unique
message id (``<scenario>-<sender>-<counter>``) in a closed loop until the time (--seconds) or the
message budget (--max-messages, shared by the senders) is spent; senders then go idle so that
nothing is in flight when wrk stops. Afterwards every channel is read back through the API and the
stored messages are counted: every acknowledged (201) message must be there, and nothing else.

Prints ONE JSON line on stdout (the one-channel scenario at the top level, the N-channel one under
``n_channels``); progress goes to stderr. Exits with 1 when stored and acknowledged differ.

    /tmp/venv/bin/python bench/chat_send.py [--senders 20] [--seconds 10] [--workers 1]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/]

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``; macOS: ``brew install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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

# Seconds wrk keeps running after the senders' deadline so their last requests complete.
GRACE_S = 3
BASELINE_CONNECTIONS = 64
PAGE = 300  # the largest message page the API serves

# One wrk thread = one sender with one connection. Settings come from BENCH_* environment variables
# (wrk hands script arguments only to init(), not to setup()). delay() is called before every
# request: it returns 0 while the sender has time and budget left, then an hour, which parks the
# connection with nothing in flight.
WRK_SEND_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_s()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC, shared by all threads
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local function split(s)
  local out = {}
  for item in string.gmatch(s, "[^,]+") do table.insert(out, item) end
  return out
end

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  local senders = split(os.getenv("BENCH_SENDERS"))
  local channels = split(os.getenv("BENCH_CHANNELS"))
  local n = #senders
  local budget = tonumber(os.getenv("BENCH_MAX_MESSAGES"))
  sender = senders[tid + 1]
  path = "/chat/channels/messaging/" .. channels[tid + 1] .. "/message?api_key="
    .. os.getenv("BENCH_API_KEY")
  headers = {
    ["Authorization"] = os.getenv("BENCH_TOKEN"),
    ["stream-auth-type"] = "jwt",
    ["Content-Type"] = "application/json",
  }
  id_prefix = os.getenv("BENCH_SCENARIO") .. "-" .. tid .. "-"
  quota = math.floor(budget / n) + ((tid < budget % n) and 1 or 0)
  deadline = now_s() + tonumber(os.getenv("BENCH_SECONDS"))
  sent, acked, other = 0, 0, 0
  first_sent, last_done = nil, nil
  live = false -- wrk calls request() once before the run to check it: that one is not sent
end

function delay()
  live = true
  if sent >= quota or now_s() >= deadline then return 3600000 end
  return 0
end

function request()
  if not live then return wrk.format("POST", path, headers, "{}") end
  sent = sent + 1
  if first_sent == nil then first_sent = now_s() end
  local body = '{"message":{"text":"bench message ' .. sent .. ' from ' .. sender
    .. '","id":"' .. id_prefix .. sent .. '"},"user_id":"' .. sender .. '"}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  last_done = now_s()
  if status == 201 then
    acked = acked + 1
  else
    other = other + 1
    if other <= 3 then io.stderr:write("status " .. status .. ": " .. body:sub(1, 300) .. "\n") end
  end
end

function done(summary, latency, requests)
  local sent_all, acked_all, other_all, t0, t1 = 0, 0, 0, math.huge, 0
  for _, t in ipairs(threads) do
    sent_all = sent_all + (t:get("sent") or 0)
    acked_all = acked_all + (t:get("acked") or 0)
    other_all = other_all + (t:get("other") or 0)
    local f, l = t:get("first_sent"), t:get("last_done")
    if f and f < t0 then t0 = f end
    if l and l > t1 then t1 = l end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"sent":%d,"acked":%d,"non_201":%d,"elapsed_s":%.6f,'
    .. '"p50_us":%d,"p99_us":%d,"max_us":%d,"socket_errors":%d,"timeouts":%d}\n',
    sent_all, acked_all, other_all, (t1 > t0) and (t1 - t0) or 0,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write, e.timeout))
end
"""


@dataclass
class SendResult:
    channels: int
    seconds: float
    messages: int  # acknowledged with 201
    messages_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # non-201 answers, socket errors and timeouts
    in_flight_at_stop: int  # sent but unanswered when wrk stopped (0 unless answers took > GRACE_S)
    stored: int  # messages of this scenario found in the channels afterwards
    server_cpu_ms_per_message: float
    # Share of one core used by the server and by wrk while the senders ran, and by everything
    # else on the machine (someone else's work makes figures noisy: prefer runs with little "other").
    cpu_pct: dict[str, float]


def children_cpu() -> float:
    """CPU time of the finished child processes of this one (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(
            "chat_send needs wrk, an HTTP load generator that can saturate the server "
            "(a Python client tops out at a few hundred requests/s).\n"
            "  Debian/Ubuntu: apt-get update && apt-get install -y wrk\n"
            "  macOS:         brew install wrk"
        )
    return wrk


def baseline_get(wrk: str, server: Server, path: str, seconds: int) -> float:
    """Requests/s of ``GET path`` with 64 connections: ``/`` (a static page) is the framework's
    ceiling; ``/healthz`` adds one database round trip (``SELECT 1``)."""
    threads = str(min(2, os.cpu_count() or 1))
    out = subprocess.run(
        [wrk, "-t", threads, "-c", str(BASELINE_CONNECTIONS), "-d", f"{seconds}s",
         f"{server.base_url}{path}"],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(match.group(1))


def post(client: httpx.Client, server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"{server.base_url}/chat{path}",
        params={"api_key": server.api_key},
        headers=server.server_headers(),
        json=body,
    )
    if response.status_code >= 300:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
    result: dict[str, Any] = response.json()
    return result


def create_users(client: httpx.Client, server: Server, user_ids: list[str]) -> None:
    for start in range(0, len(user_ids), 100):
        batch = user_ids[start : start + 100]
        post(client, server, "/users", {"users": {u: {"id": u, "name": u} for u in batch}})


def create_channel(client: httpx.Client, server: Server, channel_id: str, members: list[str]) -> None:
    post(
        client, server, f"/channels/messaging/{channel_id}/query",
        {"data": {"created_by_id": members[0], "members": members[:100]}},
    )  # fmt: skip
    for start in range(100, len(members), 100):
        post(client, server, f"/channels/messaging/{channel_id}",
             {"add_members": members[start : start + 100]})  # fmt: skip


def stored_message_ids(client: httpx.Client, server: Server, channel_id: str) -> list[str]:
    """Every message id of the channel, read back newest to oldest, a page at a time."""
    ids: list[str] = []
    messages: dict[str, Any] = {"limit": PAGE}
    while True:
        state = post(client, server, f"/channels/messaging/{channel_id}/query",
                     {"state": True, "messages": messages, "members": {"limit": 0}})  # fmt: skip
        page = [m["id"] for m in state.get("messages", [])]
        ids.extend(page)
        if len(page) < PAGE:
            return ids
        messages = {"limit": PAGE, "id_lt": page[0]}  # pages come oldest first


def run_senders(
    wrk: str,
    server: Server,
    scenario: str,
    senders: list[str],
    channels: list[str],
    seconds: float,
    max_messages: int,
) -> dict[str, Any]:
    """Run one wrk sender per entry of ``senders`` (sender i posting to ``channels[i]``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="chat_send_") as script:
        script.write(WRK_SEND_LUA)
        script.flush()
        env = {
            **os.environ,
            "BENCH_SENDERS": ",".join(senders),
            "BENCH_CHANNELS": ",".join(channels),
            "BENCH_API_KEY": server.api_key,
            "BENCH_TOKEN": server.server_token(),
            "BENCH_SCENARIO": scenario,
            "BENCH_SECONDS": str(seconds),
            "BENCH_MAX_MESSAGES": str(max_messages),
        }
        n = str(len(senders))
        duration = int(seconds) + 1 + GRACE_S
        completed = subprocess.run(
            [wrk, "-t", n, "-c", n, "-d", f"{duration}s", "--timeout", "30s", "-s", script.name,
             server.base_url],
            env=env, capture_output=True, text=True, timeout=duration + 60,
        )  # fmt: skip
    if completed.stderr.strip():
        log(f"wrk stderr ({scenario}): {completed.stderr.strip()[:1000]}")
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise RuntimeError(f"wrk printed no result (exit {completed.returncode}):\n{completed.stdout}")


def scenario(
    wrk: str,
    server: Server,
    client: httpx.Client,
    name: str,
    senders: list[str],
    channels: list[str],
    args: argparse.Namespace,
) -> SendResult:
    log(f"scenario {name}: {len(senders)} senders, {len(set(channels))} channel(s)")
    profiler = None
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
        profiler = start_profiler(server, args.py_spy / f"chat_send-{name}.txt", args.seconds)
    pids = server.pids()
    cpu_before, machine_before, wrk_before = cpu_seconds(pids), machine_cpu_seconds(), children_cpu()
    wall_before = time.monotonic()
    raw = run_senders(wrk, server, name, senders, channels, args.seconds, args.max_messages)
    wall = time.monotonic() - wall_before
    server_cpu = cpu_seconds(pids) - cpu_before
    wrk_cpu = children_cpu() - wrk_before
    other_cpu = machine_cpu_seconds() - machine_before - server_cpu - wrk_cpu
    if profiler is not None:
        profiler.wait(timeout=60)
    stored = sum(
        1
        for channel_id in sorted(set(channels))
        for message_id in stored_message_ids(client, server, channel_id)
        if message_id.startswith(f"{name}-")
    )
    acked = int(raw["acked"])
    elapsed = float(raw["elapsed_s"])
    result = SendResult(
        channels=len(set(channels)),
        seconds=round(elapsed, 3),
        messages=acked,
        messages_per_s=round(acked / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        max_ms=round(raw["max_us"] / 1000, 2),
        errors=int(raw["non_201"]) + int(raw["socket_errors"]) + int(raw["timeouts"]),
        in_flight_at_stop=int(raw["sent"]) - acked - int(raw["non_201"]),
        stored=stored,
        server_cpu_ms_per_message=round(server_cpu * 1000 / acked, 3) if acked else 0.0,
        cpu_pct={
            "server": round(100 * server_cpu / elapsed, 1) if elapsed else 0.0,
            "wrk": round(100 * wrk_cpu / elapsed, 1) if elapsed else 0.0,
            "other": round(max(0.0, 100 * other_cpu / wall), 1),
        },
    )
    log(f"scenario {name}: {json.dumps(asdict(result))}")
    if stored != acked:
        log(f"DURABILITY MISMATCH in {name}: {acked} acknowledged, {stored} stored")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=20, help="concurrent senders (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (default 10)")
    parser.add_argument("--max-messages", type=int, default=20_000,
                        help="per scenario, shared by the senders (default 20000)")  # fmt: skip
    parser.add_argument("--baseline-seconds", type=int, default=3,
                        help="GET / and GET /healthz, each (default 3)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL instead of SQLite: postgresql+asyncpg://USER@127.0.0.1:5432/[NAME]; the "
        "database NAME (default townhall_bench_<random>) is created fresh and dropped afterwards",
    )
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="record the server with py-spy during each scenario (collapsed stacks)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="first wait up to this long for other work on the machine to stop")
    args = parser.parse_args()
    if not 1 <= args.senders <= 500 or args.seconds <= 0 or args.max_messages < 1:
        parser.error("--senders must be 1..500, --seconds > 0 and --max-messages >= 1")
    wrk = require_wrk()
    background = wait_for_quiet_machine(args.wait_quiet)

    senders = [f"bench-sender-{i}" for i in range(args.senders)]
    with running_server(workers=args.workers, database_url=args.database_url) as server, \
            httpx.Client(timeout=60) as client:  # fmt: skip
        create_users(client, server, senders)
        create_channel(client, server, "bench-one", senders)
        many = [f"bench-many-{i}" for i in range(args.senders)]
        for channel_id, sender in zip(many, senders, strict=True):
            create_channel(client, server, channel_id, [sender])

        landing = baseline_get(wrk, server, "/", args.baseline_seconds)
        baseline = baseline_get(wrk, server, "/healthz", args.baseline_seconds)
        log(f"baseline: GET / {landing:.0f} req/s, GET /healthz {baseline:.0f} req/s")
        one = scenario(wrk, server, client, "one", senders, ["bench-one"] * len(senders), args)
        spread = scenario(wrk, server, client, "many", senders, many, args)

    top = asdict(one)
    print(json.dumps({
        "bench": "chat_send",
        "senders": args.senders,
        "seconds": top.pop("seconds"),
        "messages": top.pop("messages"),
        "messages_per_s": top.pop("messages_per_s"),
        "p50_ms": top.pop("p50_ms"),
        "p99_ms": top.pop("p99_ms"),
        "errors": top.pop("errors"),
        "stored": top.pop("stored"),
        "baseline_healthz_rps": round(baseline, 1),
        "baseline_landing_rps": round(landing, 1),
        "database": server.database,
        "workers": args.workers,
        "background_cores": round(background, 2),
        **top,
        "n_channels": asdict(spread),
    }))  # fmt: skip
    if any(result.stored != result.messages for result in (one, spread)):
        sys.exit(1)  # an acknowledged message is missing, or an unacknowledged one was stored


if __name__ == "__main__":
    main()
