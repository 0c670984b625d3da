"""One serialised event written to many WebSockets without each socket's framing stack.

Through ASGI, every frame a hub sends costs a coroutine chain per socket (Starlette's
``send_text``, the middleware wrappers, the server's ``send``, the websockets library building the
frame) before ``transport.write``: about 20–40 µs, which is most of a 1,000-watcher fan-out. A frame
from server to client is never masked, so its bytes are the same for every recipient: ``OutFrame``
builds them once, and a ``DirectWriter`` writes them straight to a socket's transport.

``DirectFrames`` (pure ASGI middleware, outermost of the root app's) recognises the server's WebSocket protocol
behind ``send`` and offers a ``DirectWriter`` in ``scope["extensions"]``; ``direct_writer(scope)``
takes it. Only uvicorn's websockets (sans-I/O) protocol, the one ``townhall serve`` runs, is
recognised; anywhere else (another server, Starlette's test client) there is no writer and the hub
sends through ASGI as before. A writer only writes while the socket is open and its transport is
not paused (the client reads too slowly): otherwise the caller queues the frame and sends it
through ASGI, which waits for the transport, so per-socket order and back-pressure are kept.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

EXTENSION = "townhall.direct_frames"
_OPCODE_TEXT = 0x1
_FIN = 0x80


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented text frame (RFC 6455 §5.2) carrying ``payload`` (UTF-8)."""
    length = len(payload)
    if length < 126:
        header = bytes((_FIN | _OPCODE_TEXT, length))
    elif length < 1 << 16:
        header = struct.pack("!BBH", _FIN | _OPCODE_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", _FIN | _OPCODE_TEXT, 127, length)
    return header + payload


class OutFrame:
    """One event to send: its JSON (UTF-8), and as text or as a wire frame, each made once."""

    __slots__ = ("data", "_text", "_wire")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._text: str | None = None
        self._wire: bytes | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.data.decode()
        return self._text

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = text_frame(self.data)
        return self._wire


class _ServerProtocol(Protocol):
    """What a ``DirectWriter`` reads of uvicorn's ``WebSocketsSansIOProtocol``."""

    transport: asyncio.Transport
    writable: asyncio.Event
    handshake_complete: bool
    close_sent: bool
    disconnected: bool


class DirectWriter:
    """Writes whole frames to one accepted socket's transport, when it can take them now."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: _ServerProtocol) -> None:
        self._protocol = protocol

    def write(self, wire: bytes) -> bool:
        """Write ``wire`` now; False (nothing written) if the socket is not open or not writable."""
        p = self._protocol
        if not p.handshake_complete or p.close_sent or p.disconnected or not p.writable.is_set():
            return False
        transport = p.transport
        if transport.is_closing():
            return False
        transport.write(wire)
        return True


def direct_writer(scope: Scope) -> DirectWriter | None:
    """The socket's ``DirectWriter``, if ``DirectFrames`` recognised its server."""
    writer = scope.get("extensions", {}).get(EXTENSION)
    return writer if isinstance(writer, DirectWriter) else None


def _server_protocol(send: Send) -> Any:
    protocol = getattr(send, "__self__", None)
    if protocol is None:
        return None
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # uvicorn without the websockets library
        return None
    return protocol if type(protocol) is WebSocketsSansIOProtocol else None


class DirectFrames:
    """Pure ASGI middleware, to be the outermost one (it must see the server's own ``send``):
    offers each WebSocket a ``DirectWriter``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        protocol = _server_protocol(send) if scope["type"] == "websocket" else None
        if protocol is None:
            await self.app(scope, receive, send)
            return
        extensions = scope.get("extensions")
        if extensions is None:
            extensions = scope["extensions"] = {}
        extensions[EXTENSION] = DirectWriter(protocol)
        try:
            await self.app(scope, receive, send)
        finally:
            # The protocol holds this scope: drop the writer so that the pair is not a reference
            # cycle (freed only by a full garbage collection) once the socket is done.
            extensions.pop(EXTENSION, None)
