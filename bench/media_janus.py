"""Janus AudioBridge through townhall's janus media backend: room create and join latency, and the
Janus CPU each muted listener costs.

Starts a private Janus from the configuration townhall ships (``townhall.media.janus_server``; fresh
folder, free ports on 127.0.0.1, loopback ICE), drives it with ``JanusMediaBackend`` and joins real
WebRTC clients (aiortc, ``tests/media/audio_client.py``) with the credentials the backend hands out:

- ``create_ms``: ``create_room`` latency (AudioBridge ``create`` + ``allowed`` + the monitor's join),
  over ``--rooms`` rooms.
- ``join_ms``: for ``--joins`` listeners, one at a time, into a room where a speaker sends a tone:
  from asking for credentials to the first audible frame at the listener (credentials, session,
  offer/answer, ICE, DTLS, first mixed packet). ``join_signalling_ms``: up to Janus's answer.
- Janus CPU per listener (share of one core), for each N of ``--listeners`` (e.g. ``20,50``), in the
  two ways a room can carry listeners, one speaker sending a tone:
  ``bridge``: N muted recvonly AudioBridge participants (each costs an Opus encode of the mix);
  ``stream``: the large-room path (``large_room_listeners``): the room's mix forwarded once
  (``rtp_forward``) to a Streaming mountpoint that N viewers watch with the credentials the backend
  hands out (``janus:..?stream=..``); its baseline includes the forwarder and the one listener the
  bridge keeps. Per listener = (CPU with the N listeners - baseline) / N. ``receiving`` counts the
  listeners that got audio frames during the measurement, ``hearing`` those whose RMS was above
  silence, ``speaker_in_room`` whether the speaker was still in the mix; ``client_cpu_pct`` shows
  whether this one Python process, which runs every client (and decodes every listener's audio),
  was short of CPU: on a busy machine its clients drop out, which lowers these counts, not Janus's
  cost per listener.

Prints ONE JSON line on stdout; progress goes to stderr. Everything is bounded in time and counts.

    .venv/bin/python bench/media_janus.py [--rooms 20] [--joins 5] [--listeners 20,50] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _server import cpu_seconds, log, machine_cpu_seconds  # noqa: E402

from tests.media.audio_client import AudioClient, StreamClient, client_for  # noqa: E402
from townhall.media.janus import JanusMediaBackend  # noqa: E402
from townhall.media.janus_server import JanusServer, free_port  # noqa: E402

MAX_LISTENERS = 60
HEARD = 0.01


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def first_audible_frame(client: AudioClient, since: float, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        for arrival, samples in client.samples[seen:]:
            if arrival >= since and float((samples**2).mean()) ** 0.5 > HEARD:
                return arrival
        seen = len(client.samples)
        await asyncio.sleep(0.005)
    raise TimeoutError("no audio reached the listener")


async def janus_cpu_pct(pid: int, seconds: float) -> tuple[float, float, float]:
    """Janus, this process and the whole machine's CPU over ``seconds`` (percent of one core)."""
    janus_before, own_before, machine_before = cpu_seconds([pid]), own_cpu_seconds(), machine_cpu_seconds()
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    return ((cpu_seconds([pid]) - janus_before) / elapsed * 100, (own_cpu_seconds() - own_before) / elapsed * 100,
            (machine_cpu_seconds() - machine_before) / elapsed * 100)


async def listeners_cost(args: argparse.Namespace, backend: JanusMediaBackend, room: str, pid: int, count: int,
                         prefix: str, api_secret: str) -> dict[str, object]:
    """Janus CPU with the room as it is, then with ``count`` more listeners joined with the credentials
    ``backend`` hands out (bridge participants or mountpoint viewers, as it decides)."""
    await asyncio.sleep(1.0)
    baseline, _, _ = await janus_cpu_pct(pid, args.seconds)
    listeners: list[AudioClient | StreamClient] = []
    try:
        for i in range(count):
            credentials = await backend.credentials(room, f"{prefix}-{i}", can_publish=False)
            listener = client_for(credentials.connection_url, api_secret=api_secret)
            listeners.append(listener)
            await asyncio.wait_for(listener.join(), 20)
        kinds = {type(listener).__name__ for listener in listeners}
        await asyncio.sleep(2.0)
        started = time.monotonic()
        janus_pct, client_pct, machine_pct = await janus_cpu_pct(pid, args.seconds)
        ended = time.monotonic()
        speaking = [p.user_id for p in await backend.participants(room) if not p.muted]
        return {
            "clients": sorted(kinds),
            "janus_cpu_pct_baseline": round(baseline, 1),
            "janus_cpu_pct_with_listeners": round(janus_pct, 1),
            "cpu_per_listener_pct": round((janus_pct - baseline) / count, 2),
            "hearing": sum(1 for listener in listeners if listener.rms(started, ended) > HEARD),
            "receiving": sum(1 for listener in listeners if any(started <= t < ended for t, _ in listener.samples)),
            "speaker_in_room": speaking == ["speaker"],  # False: the (overloaded) speaker client dropped out
            "client_cpu_pct": round(client_pct, 1),
            "other_cpu_pct": round(max(machine_pct - janus_pct - client_pct, 0.0), 1),
        }
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in listeners), return_exceptions=True)


async def run(args: argparse.Namespace, folder: Path, tone: str) -> dict[str, object]:
    server = JanusServer(folder / "janus")
    server.start(loopback_ice=True, http_port=free_port(), admin_port=free_port(), debug_level=2)
    pid = server.pid()
    assert pid is not None
    state = server.read_state()
    api_secret = state["api_secret"]
    # Direct mode (no signalling proxy: this measures Janus), so clients carry the api secret too.
    backend = JanusMediaBackend(state["url"], admin_key=state["admin_key"], secret="bench",
                                api_secret=api_secret)
    await backend.start()
    clients: list[AudioClient] = []
    try:
        log(f"creating {args.rooms} rooms")
        create_ms = []
        for i in range(args.rooms):
            started = time.perf_counter()
            await backend.create_room(f"bench-create-{i}")
            create_ms.append((time.perf_counter() - started) * 1000)
        for i in range(args.rooms):
            await backend.destroy_room(f"bench-create-{i}")

        log(f"joining {args.joins} listeners one at a time")
        await backend.create_room("bench")
        speaker = AudioClient((await backend.credentials("bench", "speaker", can_publish=True)).connection_url,
                              send_wav=tone, api_secret=api_secret)
        clients.append(speaker)
        await asyncio.wait_for(speaker.join(), 20)
        await asyncio.sleep(1.0)
        join_ms, signalling_ms = [], []
        for i in range(args.joins):
            started = time.monotonic()
            credentials = await backend.credentials("bench", f"joiner-{i}", can_publish=False)
            listener = AudioClient(credentials.connection_url, api_secret=api_secret)
            await asyncio.wait_for(listener.join(), 20)
            signalling_ms.append((time.monotonic() - started) * 1000)
            heard = await first_audible_frame(listener, started, 20)
            join_ms.append((heard - started) * 1000)
            await listener.close()
            await asyncio.sleep(0.3)

        per_count: dict[str, dict[str, object]] = {}
        large = JanusMediaBackend(state["url"], admin_key=state["admin_key"], secret="bench", large_room_listeners=1,
                                  api_secret=api_secret)
        await large.start()
        try:
            for count in args.listeners:
                log(f"Janus CPU: {count} bridge listeners")
                bridge = await listeners_cost(args, backend, "bench", pid, count, f"bridge-{count}", api_secret)
                log(f"Janus CPU: {count} mountpoint viewers (one listener stays in the bridge)")
                anchor = AudioClient((await large.credentials("bench", "anchor", can_publish=False)).connection_url,
                                     api_secret=api_secret)
                clients.append(anchor)
                await asyncio.wait_for(anchor.join(), 20)
                stream = await listeners_cost(args, large, "bench", pid, count, f"stream-{count}", api_secret)
                await asyncio.wait_for(anchor.close(), 10)
                clients.remove(anchor)
                per_count[str(count)] = {"bridge": bridge, "stream": stream}
        finally:
            await large.close()
        rss_kb = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:")))
        return {
            "rooms": args.rooms,
            "create_ms_p50": pct(create_ms, 0.5), "create_ms_p99": pct(create_ms, 0.99),
            "create_ms_mean": round(statistics.mean(create_ms), 1),
            "joins": args.joins,
            "join_ms_p50": pct(join_ms, 0.5), "join_ms_max": round(max(join_ms), 1),
            "join_signalling_ms_p50": pct(signalling_ms, 0.5),
            "cpu_per_listener_pct": {n: {kind: figures["cpu_per_listener_pct"] for kind, figures in by_kind.items()}
                                     for n, by_kind in per_count.items()},
            "listeners": per_count,
            "janus_rss_mb": round(rss_kb / 1024, 1),
        }
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)
        await backend.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--joins", type=int, default=5)
    parser.add_argument("--listeners", default="20,50",
                        help=f"listener counts to measure, comma-separated (each at most {MAX_LISTENERS})")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each CPU measurement")
    args = parser.parse_args()
    args.rooms = max(1, min(args.rooms, 200))
    args.joins = max(1, min(args.joins, 20))
    args.listeners = [max(1, min(int(n), MAX_LISTENERS)) for n in str(args.listeners).split(",") if n.strip()]
    args.seconds = max(2.0, min(args.seconds, 60.0))
    before = machine_cpu_seconds()
    time.sleep(2)
    background = (machine_cpu_seconds() - before) / 2
    with tempfile.TemporaryDirectory(prefix="townhall-bench-janus-") as tmp:
        folder = Path(tmp)
        tone = str(folder / "tone.wav")
        subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", tone, "synth", "3", "sine", "440", "vol", "0.5"],
                       check=True, timeout=60)
        result = asyncio.run(asyncio.wait_for(run(args, folder, tone), 300 + 10 * sum(args.listeners)))
    result["background_cores"] = round(background, 2)
    result["cores"] = os.cpu_count()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
