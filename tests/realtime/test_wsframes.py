"""Frames written straight to a WebSocket's transport (realtime/wsframes.py) and the chat hub's use
of them: the bytes are a valid frame, they go out only while the socket can take them, and a
socket that cannot take them keeps its frames in order through its queue."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from townhall.api.chat.hub import Connection
from townhall.core.accounts.models import User
from townhall.realtime.wsframes import (
    EXTENSION,
    DirectFrames,
    DirectWriter,
    OutFrame,
    direct_writer,
    text_frame,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
USER = User(id=1, chat_id="u", created_at=T0, updated_at=T0)


def _parsed(wire: bytes) -> Frame:
    """The frame the websockets library's parser reads from ``wire`` (as a client: unmasked)."""
    reader = StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("the parser wants more bytes than the frame has")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_a_text_frame_is_read_back_whole_by_a_real_client_at_every_length_encoding(size: int) -> None:
    payload = ("é" * (size // 2) + "x" * (size % 2)).encode()
    frame = _parsed(text_frame(payload))
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


def test_an_out_frame_makes_its_text_and_wire_bytes_once() -> None:
    frame = OutFrame(b'{"a":"\xc3\xa9"}')
    assert frame.text == '{"a":"é"}' and frame.text is frame.text
    assert frame.wire == text_frame(frame.data) and frame.wire is frame.wire


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing


class FakeProtocol:
    """The attributes of uvicorn's WebSocketsSansIOProtocol that a DirectWriter reads."""

    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.handshake_complete = True
        self.close_sent = False
        self.disconnected = False


async def test_a_direct_writer_writes_only_while_the_socket_is_open_and_writable() -> None:
    protocol = FakeProtocol()
    writer = DirectWriter(protocol)  # type: ignore[arg-type]
    assert writer.write(b"1")
    protocol.writable.clear()  # the transport's buffer is full: the client reads slowly
    assert not writer.write(b"2")
    protocol.writable.set()
    protocol.close_sent = True
    assert not writer.write(b"3")
    protocol.close_sent, protocol.disconnected = False, True
    assert not writer.write(b"4")
    protocol.disconnected, protocol.transport.closing = False, True
    assert not writer.write(b"5")
    assert protocol.transport.written == [b"1"]


class RecordingSocket:
    """The ASGI side of a connection (what the hub's queue task sends through)."""

    def __init__(self, protocol: FakeProtocol) -> None:
        self.protocol = protocol

    async def send_text(self, data: str) -> None:
        await self.protocol.writable.wait()
        self.protocol.transport.write(text_frame(data.encode()))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.protocol.close_sent = True


async def test_frames_a_socket_cannot_take_now_are_queued_and_later_frames_keep_their_order() -> None:
    protocol = FakeProtocol()
    conn = Connection("c1", USER, RecordingSocket(protocol), (),
                      queue_size=10, direct=DirectWriter(protocol))  # type: ignore[arg-type]
    conn.start()
    frames = [OutFrame(f'{{"n":{n}}}'.encode()) for n in range(5)]
    assert conn.offer(frames[0])  # written at once, no task involved
    assert protocol.transport.written == [frames[0].wire]
    protocol.writable.clear()
    assert conn.offer(frames[1]) and conn.offer(frames[2])  # queued
    protocol.writable.set()  # writable again, but frames 1 and 2 are still queued: 3 must wait
    assert conn.offer(frames[3])
    for _ in range(10):
        await asyncio.sleep(0)
    assert conn.offer(frames[4])
    await conn.stop()
    assert protocol.transport.written == [f.wire for f in frames]


async def test_a_socket_that_stays_unwritable_is_reported_once_its_queue_is_full() -> None:
    protocol = FakeProtocol()
    protocol.writable.clear()
    conn = Connection("c1", USER, RecordingSocket(protocol), (),
                      queue_size=3, direct=DirectWriter(protocol))  # type: ignore[arg-type]
    conn.start()
    offered = [conn.offer(OutFrame(b"{}")) for _ in range(5)]
    await conn.stop()
    assert offered.count(False) >= 1 and protocol.transport.written == []


# -- under a real uvicorn, as `townhall serve` runs it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SCOPES: list[Scope] = []


async def _echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts, then sends one frame directly and one through ASGI, in that order."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    SCOPES.append(scope)
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    writer = direct_writer(scope)
    direct = writer is not None and writer.write(OutFrame(b'{"via":"direct"}').wire)
    await send({"type": "websocket.send", "text": '{"via":"asgi","direct":%s}' % str(direct).lower()})
    while (await receive())["type"] != "websocket.disconnect":
        pass


@contextlib.asynccontextmanager
async def _uvicorn(app: Any, ws: str) -> AsyncIterator[str]:
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws=ws, loop="none", log_level="warning",
                            ws_per_message_deflate=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


async def test_under_uvicorns_sans_io_protocol_a_socket_gets_a_direct_writer_whose_frames_arrive() -> None:
    SCOPES.clear()
    async with _uvicorn(DirectFrames(_echo_app), "websockets-sansio") as url:
        async with connect(url) as ws:
            assert await ws.recv() == '{"via":"direct"}'
            assert await ws.recv() == '{"via":"asgi","direct":true}'
        # Once the socket is done, its scope no longer holds the writer (which holds the protocol,
        # which holds the scope: a cycle only a full garbage collection would free).
        async with asyncio.timeout(5):
            while EXTENSION in SCOPES[0]["extensions"]:
                await asyncio.sleep(0.01)


# uvicorn's legacy websockets protocol warns that it is deprecated
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:The `websockets` implementation is deprecated")
async def test_under_another_websocket_protocol_there_is_no_direct_writer_and_asgi_still_works() -> None:
    async with _uvicorn(DirectFrames(_echo_app), "websockets") as url, connect(url) as ws:
        assert await ws.recv() == '{"via":"asgi","direct":false}'
