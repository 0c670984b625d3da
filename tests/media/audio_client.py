"""A minimal WebRTC client of a Janus AudioBridge room (aiortc), driven by townhall's credentials.

Only what the tests need: join with the ``connection_url`` the media backend hands out, send a WAV
file (speaker) or nothing (listener), record what the room sends back as float samples with their
arrival times, leave. Everything is bounded in time.

Loopback: aioice leaves 127.0.0.1 out of its host candidates, so this module makes it offer exactly
127.0.0.1 (Janus itself runs with the getifaddrs wrapper, see townhall.media.janus_server).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aioice.ice
import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


def parse_connection_url(connection_url: str) -> dict[str, str]:
    scheme, _, rest = connection_url.partition(":")
    assert scheme == "janus", connection_url
    parts = urlsplit(rest)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["server_url"] = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return query


class AudioClient:
    def __init__(self, connection_url: str, *, send_wav: str | None = None) -> None:
        self.params = parse_connection_url(connection_url)
        self.url = self.params["server_url"]
        self.send_wav = send_wav
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=40.0))
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.samples: list[tuple[float, np.ndarray]] = []  # (arrival time, mono float samples)
        self.events: list[dict[str, Any]] = []
        self.session = self.handle = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.player: MediaPlayer | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = (await self.http.post(f"{self.url}{path}", json={**body, "transaction": secrets.token_hex(6)})).json()
        assert answer.get("janus") != "error", answer
        return dict(answer)

    async def join(self, timeout: float = 20.0) -> dict[str, Any]:
        """Join the room with an offer and wait until Janus answered; returns the join event."""
        self.session = (await self._post("", {"janus": "create"}))["data"]["id"]
        self.handle = (await self._post(f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.audiobridge"}))[
            "data"
        ]["id"]
        self._tasks.append(asyncio.create_task(self._poll()))
        if self.send_wav:
            self.player = MediaPlayer(self.send_wav, loop=True)
            self.pc.addTrack(self.player.audio)
        else:
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self._tasks.append(asyncio.create_task(self._record(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = {
            "request": "join", "room": int(self.params["room"]), "pin": self.params["pin"],
            "id": int(self.params["id"]), "display": self.params["display"], "token": self.params["token"],
            "muted": self.params["muted"] == "true",
        }
        jsep = {"type": "offer", "sdp": self.pc.localDescription.sdp, "trickle": False}
        await self._post(f"/{self.session}/{self.handle}", {"janus": "message", "body": body, "jsep": jsep})
        event = await asyncio.wait_for(self._answer, timeout)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=event["jsep"]["sdp"], type="answer"))
        return event

    async def _poll(self) -> None:
        while True:
            try:
                response = await self.http.get(f"{self.url}/{self.session}", params={"maxev": 10})
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            answer = response.json()
            for event in answer if isinstance(answer, list) else [answer]:
                self.events.append(event)
                data = event.get("plugindata", {}).get("data", {})
                if not self._answer.done():
                    if "error_code" in data or event.get("janus") == "error":
                        self._answer.set_exception(AssertionError(f"join refused: {event}"))
                    elif "jsep" in event:
                        self._answer.set_result(event)

    async def _record(self, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = frame.to_ndarray().astype(np.float32) / 32768.0
            channels = len(frame.layout.channels)
            mono = pcm.reshape(-1, channels).mean(axis=1) if channels > 1 else pcm.reshape(-1)
            self.samples.append((time.monotonic(), mono))

    def rms(self, start: float, end: float) -> float:
        """RMS of what arrived between two ``time.monotonic()`` instants (0.0 if nothing arrived)."""
        chunks = [s for t, s in self.samples if start <= t < end]
        if not chunks:
            return 0.0
        data = np.concatenate(chunks)
        return float(np.sqrt(np.mean(np.square(data))))

    async def measure(self, seconds: float) -> float:
        """Wait ``seconds`` and return the RMS of what arrived meanwhile."""
        start = time.monotonic()
        await asyncio.sleep(seconds)
        return self.rms(start, time.monotonic())

    def was_kicked(self) -> bool:
        return any(event.get("plugindata", {}).get("data", {}).get("audiobridge") == "event"
                   and "kicked" in event["plugindata"]["data"] for event in self.events) or any(
            event.get("janus") == "hangup" for event in self.events)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.player is not None and self.player.audio is not None:
            self.player.audio.stop()
        await self.pc.close()
        if self.session:
            try:
                await self.http.post(f"{self.url}/{self.session}",
                                     json={"janus": "destroy", "transaction": secrets.token_hex(6)})
            except httpx.HTTPError:
                pass
        await self.http.aclose()
