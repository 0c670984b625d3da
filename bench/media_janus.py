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
- ``cpu_per_listener_pct``: Janus CPU (share of one core) with one speaker and N muted recvonly
  listeners, minus the same with the speaker alone, divided by N (each listener costs an Opus
  encode of the mix). ``client_cpu_pct`` shows whether this one Python process, which decodes every
  listener's audio, was short of CPU.
- ``fanout_*`` (skip with ``--no-fanout``): the large-room design, measured: the room's mix is sent
  once with AudioBridge ``rtp_forward`` to a Streaming mountpoint and N recvonly viewers watch it
  (no per-listener encode). ``fanout_cpu_per_listener_pct`` compares with ``cpu_per_listener_pct``.

Prints ONE JSON line on stdout; progress goes to stderr. Everything is bounded in time and counts.

    .venv/bin/python bench/media_janus.py [--rooms 20] [--joins 5] [--listeners 10] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from _server import cpu_seconds, log, machine_cpu_seconds  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

from tests.media.audio_client import AudioClient  # noqa: E402
from townhall.media.janus import JanusClient, JanusMediaBackend  # noqa: E402
from townhall.media.janus_server import JanusServer, free_port  # noqa: E402

MAX_LISTENERS = 40
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


class StreamingListener:
    """A recvonly WebRTC viewer of a Janus Streaming mountpoint (Janus offers, the client answers)."""

    def __init__(self, url: str, mountpoint: int) -> None:
        self.url, self.mountpoint = url, mountpoint
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=40.0))
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.samples: list[tuple[float, np.ndarray]] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        return dict((await self.http.post(f"{self.url}{path}", json={**body, "transaction": secrets.token_hex(4)})).json())

    async def join(self) -> None:
        session = (await self._post("", {"janus": "create"}))["data"]["id"]  # type: ignore[index]
        handle = (await self._post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"}))["data"]["id"]  # type: ignore[index]
        self.session = session
        await self._post(f"/{session}/{handle}", {"janus": "message", "body": {"request": "watch", "id": self.mountpoint}})
        offer = None
        while offer is None:
            answer = (await self.http.get(f"{self.url}/{session}", params={"maxev": 10})).json()
            offer = next((e["jsep"] for e in (answer if isinstance(answer, list) else [answer]) if "jsep" in e), None)

        @self.pc.on("track")
        def on_track(track: object) -> None:
            self.tasks.append(asyncio.create_task(self._record(track)))

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        jsep = {"type": "answer", "sdp": self.pc.localDescription.sdp, "trickle": False}
        await self._post(f"/{session}/{handle}", {"janus": "message", "body": {"request": "start"}, "jsep": jsep})

    async def _record(self, track: object) -> None:
        while True:
            try:
                frame = await track.recv()  # type: ignore[attr-defined]
            except MediaStreamError:
                return
            self.samples.append((time.monotonic(), frame.to_ndarray().astype(np.float32).reshape(-1) / 32768.0))

    def rms(self, start: float, end: float) -> float:
        chunks = [s for t, s in self.samples if start <= t < end]
        return float(np.sqrt(np.mean(np.square(np.concatenate(chunks))))) if chunks else 0.0

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()
        await self._post(f"/{self.session}", {"janus": "destroy"})
        await self.http.aclose()


async def measure_fanout(
    args: argparse.Namespace, backend: JanusMediaBackend, state: dict[str, object], pid: int
) -> dict[str, object]:
    """The speaker's mix forwarded once (AudioBridge rtp_forward) to a Streaming mountpoint that N
    recvonly viewers watch: the mix is encoded once, each viewer only costs SRTP and sending."""
    admin = JanusClient(str(state["url"]))
    session = await admin.create_session()
    handle = int((await admin._post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"}))["data"]["id"])
    port, mountpoint = free_udp_port(), 4242
    await admin.message(session, handle, {
        "request": "create", "admin_key": state["admin_key"], "type": "rtp", "id": mountpoint, "is_private": True,
        "media": [{"type": "audio", "mid": "a", "port": port, "pt": 111, "codec": "opus"}],
    })
    await backend._request({
        "request": "rtp_forward", "room": backend.room_number("bench"), "secret": backend.room_secret("bench"),
        "admin_key": state["admin_key"], "host": "127.0.0.1", "port": port, "codec": "opus", "ptype": 111,
    })
    viewers: list[StreamingListener] = []
    try:
        await asyncio.sleep(1.0)
        before = cpu_seconds([pid])
        await asyncio.sleep(args.seconds)
        alone_pct = (cpu_seconds([pid]) - before) / args.seconds * 100
        for _ in range(args.listeners):
            viewer = StreamingListener(str(state["url"]), mountpoint)
            viewers.append(viewer)
            await asyncio.wait_for(viewer.join(), 20)
        await asyncio.sleep(2.0)
        before, started = cpu_seconds([pid]), time.monotonic()
        await asyncio.sleep(args.seconds)
        elapsed = time.monotonic() - started
        janus_pct = (cpu_seconds([pid]) - before) / elapsed * 100
        return {
            "fanout_janus_cpu_pct_forward_alone": round(alone_pct, 1),
            "fanout_janus_cpu_pct_with_listeners": round(janus_pct, 1),
            "fanout_cpu_per_listener_pct": round((janus_pct - alone_pct) / args.listeners, 2),
            "fanout_listeners_hearing": sum(1 for v in viewers if v.rms(started, started + elapsed) > HEARD),
        }
    finally:
        await asyncio.gather(*(asyncio.wait_for(v.close(), 10) for v in viewers), return_exceptions=True)
        await admin.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(args: argparse.Namespace, folder: Path, tone: str) -> dict[str, object]:
    server = JanusServer(folder / "janus")
    server.start(loopback_ice=True, http_port=free_port(), admin_port=free_port(), debug_level=2)
    pid = server.pid()
    assert pid is not None
    state = server.read_state()
    backend = JanusMediaBackend(state["url"], admin_key=state["admin_key"], secret="bench")
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
                              send_wav=tone)
        clients.append(speaker)
        await asyncio.wait_for(speaker.join(), 20)
        await asyncio.sleep(1.0)
        join_ms, signalling_ms = [], []
        for i in range(args.joins):
            started = time.monotonic()
            credentials = await backend.credentials("bench", f"joiner-{i}", can_publish=False)
            listener = AudioClient(credentials.connection_url)
            await asyncio.wait_for(listener.join(), 20)
            signalling_ms.append((time.monotonic() - started) * 1000)
            heard = await first_audible_frame(listener, started, 20)
            join_ms.append((heard - started) * 1000)
            await listener.close()
            await asyncio.sleep(0.3)

        log(f"Janus CPU: speaker alone, then with {args.listeners} muted listeners, {args.seconds:.0f} s each")
        await asyncio.sleep(1.0)
        before = cpu_seconds([pid])
        await asyncio.sleep(args.seconds)
        alone_pct = (cpu_seconds([pid]) - before) / args.seconds * 100
        for i in range(args.listeners):
            listener = AudioClient((await backend.credentials("bench", f"listener-{i}", can_publish=False)).connection_url)
            clients.append(listener)
            await asyncio.wait_for(listener.join(), 20)
        await asyncio.sleep(2.0)
        janus_before, own_before, machine_before = cpu_seconds([pid]), own_cpu_seconds(), machine_cpu_seconds()
        started = time.monotonic()
        await asyncio.sleep(args.seconds)
        elapsed = time.monotonic() - started
        janus_pct = (cpu_seconds([pid]) - janus_before) / elapsed * 100
        client_pct = (own_cpu_seconds() - own_before) / elapsed * 100
        machine_pct = (machine_cpu_seconds() - machine_before) / elapsed * 100
        heard = sum(1 for c in clients[1:] if c.rms(started, started + elapsed) > HEARD)
        participants = len(await backend.participants("bench"))
        rss_kb = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:")))
        fanout: dict[str, object] = {}
        if args.fanout:
            log(f"fan-out: rtp_forward to a Streaming mountpoint, {args.listeners} viewers")
            for client in clients[1:]:
                await asyncio.wait_for(client.close(), 10)
            del clients[1:]
            fanout = await measure_fanout(args, backend, state, pid)
        return {
            **fanout,
            "rooms": args.rooms,
            "create_ms_p50": pct(create_ms, 0.5), "create_ms_p99": pct(create_ms, 0.99),
            "joins": args.joins,
            "join_ms_p50": pct(join_ms, 0.5), "join_ms_max": round(max(join_ms), 1),
            "join_signalling_ms_p50": pct(signalling_ms, 0.5),
            "listeners": args.listeners, "listeners_hearing": heard, "participants": participants,
            "janus_cpu_pct_speaker_alone": round(alone_pct, 1),
            "janus_cpu_pct_with_listeners": round(janus_pct, 1),
            "cpu_per_listener_pct": round((janus_pct - alone_pct) / max(args.listeners, 1), 2),
            "client_cpu_pct": round(client_pct, 1),
            "other_cpu_pct": round(max(machine_pct - janus_pct - client_pct, 0.0), 1),
            "janus_rss_mb": round(rss_kb / 1024, 1),
            "create_ms_mean": round(statistics.mean(create_ms), 1),
        }
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)
        await backend.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--joins", type=int, default=5)
    parser.add_argument("--listeners", type=int, default=10, help=f"muted listeners (at most {MAX_LISTENERS})")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each CPU measurement")
    parser.add_argument("--no-fanout", dest="fanout", action="store_false",
                        help="skip the rtp_forward -> Streaming fan-out measurement")
    args = parser.parse_args()
    args.rooms = max(1, min(args.rooms, 200))
    args.joins = max(1, min(args.joins, 20))
    args.listeners = max(1, min(args.listeners, MAX_LISTENERS))
    args.seconds = max(2.0, min(args.seconds, 60.0))
    before = machine_cpu_seconds()
    time.sleep(2)
    background = (machine_cpu_seconds() - before) / 2
    with tempfile.TemporaryDirectory(prefix="townhall-bench-janus-") as tmp:
        folder = Path(tmp)
        tone = str(folder / "tone.wav")
        subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", tone, "synth", "3", "sine", "440", "vol", "0.5"],
                       check=True, timeout=60)
        result = asyncio.run(asyncio.wait_for(run(args, folder, tone), 300))
    result["background_cores"] = round(background, 2)
    result["cores"] = os.cpu_count()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
