"""Minimal WebRTC clients of Janus (aiortc), driven by townhall's credentials.

Only what the tests need: ``AudioClient`` joins an AudioBridge room with the ``connection_url`` the
media backend hands out (townhall's signalling proxy, or in direct mode Janus itself, which then wants
its ``api_secret``: only a test standing in for an old direct client passes it), sends a WAV file (speaker) or nothing (listener) and records what the room
sends back as float samples with their arrival times; ``StreamClient`` watches a large room's
Streaming mountpoint (``janus:<url>?stream=..&pin=..``, recv-only: Janus offers, the client answers)
and records the same way; ``client_for`` picks the one a ``connection_url`` calls for. Everything is
bounded in time.

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


class _JanusPeer:
    """A Janus session with one plugin handle and one PeerConnection whose received audio is recorded."""

    plugin = ""

    def __init__(self, connection_url: str, *, api_secret: str | None = None) -> None:
        self.params = parse_connection_url(connection_url)
        self.api_secret = api_secret
        self.url = self.params["server_url"]
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=40.0))
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.samples: list[tuple[float, np.ndarray]] = []  # (arrival time, mono float samples)
        self.events: list[dict[str, Any]] = []
        self.session = self.handle = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.player: MediaPlayer | None = None

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self._tasks.append(asyncio.create_task(self._record(track)))

    async def _post(self, path: str, body: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6)}
        if self.api_secret:
            body["apisecret"] = self.api_secret
        answer = (await self.http.post(f"{self.url}{path}", json=body)).json()
        assert not check or answer.get("janus") != "error", answer
        return dict(answer)

    async def _attach(self) -> None:
        self.session = (await self._post("", {"janus": "create"}))["data"]["id"]
        self.handle = (await self._post(f"/{self.session}", {"janus": "attach", "plugin": self.plugin}))["data"]["id"]
        self._tasks.append(asyncio.create_task(self._poll()))

    async def _poll(self) -> None:
        while True:
            try:
                params: dict[str, Any] = {"maxev": 10}
                if self.api_secret:
                    params["apisecret"] = self.api_secret
                response = await self.http.get(f"{self.url}/{self.session}", params=params)
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

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.player is not None and self.player.audio is not None:
            self.player.audio.stop()
        await self.pc.close()
        if self.session:
            try:
                await self._post(f"/{self.session}", {"janus": "destroy"}, check=False)
            except httpx.HTTPError:
                pass
        await self.http.aclose()


class AudioClient(_JanusPeer):
    """A participant of an AudioBridge room: sends ``send_wav`` (speaker) or nothing (listener)."""

    plugin = "janus.plugin.audiobridge"

    def __init__(self, connection_url: str, *, send_wav: str | None = None, api_secret: str | None = None) -> None:
        super().__init__(connection_url, api_secret=api_secret)
        self.send_wav = send_wav

    async def join(self, timeout: float = 20.0, **claims: Any) -> dict[str, Any]:
        """Join the room with an offer and wait until Janus answered; returns the join event.
        ``claims`` replace fields of the join body (``id``, ``display``: an impersonation attempt)."""
        await self._attach()
        if self.send_wav:
            self.player = MediaPlayer(self.send_wav, loop=True)
            self.pc.addTrack(self.player.audio)
        else:
            self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = {
            "request": "join", "room": int(self.params["room"]), "pin": self.params["pin"],
            "id": int(self.params["id"]), "display": self.params["display"], "token": self.params["token"],
            "muted": self.params["muted"] == "true", **claims,
        }
        jsep = {"type": "offer", "sdp": self.pc.localDescription.sdp, "trickle": False}
        await self._post(f"/{self.session}/{self.handle}", {"janus": "message", "body": body, "jsep": jsep})
        event = await asyncio.wait_for(self._answer, timeout)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=event["jsep"]["sdp"], type="answer"))
        return event

    def was_kicked(self) -> bool:
        return any(event.get("plugindata", {}).get("data", {}).get("audiobridge") == "event"
                   and "kicked" in event["plugindata"]["data"] for event in self.events) or any(
            event.get("janus") == "hangup" for event in self.events)


class StreamClient(_JanusPeer):
    """A recv-only viewer of a large room's Streaming mountpoint (``janus:<url>?stream=..&pin=..``)."""

    plugin = "janus.plugin.streaming"

    async def join(self, timeout: float = 20.0) -> dict[str, Any]:
        """``watch`` the mountpoint, answer Janus's offer, ``start``; returns the offer event."""
        await self._attach()
        body = {"request": "watch", "id": int(self.params["stream"]), "pin": self.params["pin"]}
        if "token" in self.params:  # proxy mode: the ticket the proxy checks
            body["token"] = self.params["token"]
        await self._post(f"/{self.session}/{self.handle}", {"janus": "message", "body": body})
        event = await asyncio.wait_for(self._answer, timeout)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=event["jsep"]["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        jsep = {"type": "answer", "sdp": self.pc.localDescription.sdp, "trickle": False}
        await self._post(f"/{self.session}/{self.handle}", {"janus": "message", "body": {"request": "start"},
                                                             "jsep": jsep})
        return event


def client_for(connection_url: str, *, send_wav: str | None = None,
               api_secret: str | None = None) -> AudioClient | StreamClient:
    """The client a ``connection_url`` calls for: a mountpoint viewer or a bridge participant."""
    if "stream" in parse_connection_url(connection_url):
        assert send_wav is None, "a mountpoint is recv-only"
        return StreamClient(connection_url, api_secret=api_secret)
    return AudioClient(connection_url, send_wav=send_wav, api_secret=api_secret)
