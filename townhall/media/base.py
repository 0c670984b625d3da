"""The media layer's contract: what the rooms core asks of a media server, whichever it is.

Room STATE (who is in, who may speak) is townhall's; a ``MediaBackend`` only carries the audio and
reports who is actually connected. Everything here is async and free of web-framework imports:
core services and jobs use it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

log = logging.getLogger(__name__)

EventKind = Literal["joined", "left"]

# ``check(room_id, user_id)``: may this user be in / publish in this room now? Answered by whoever owns
# room state (the rooms core, from the database), so every process decides the same way.
AccessCheck = Callable[[str, str], bool | Awaitable[bool]]


async def ask(check: AccessCheck, room_id: str, user_id: str, *, what: str) -> bool:
    """``check``'s answer; an error is logged and counts as no (fail closed)."""
    try:
        answer = check(room_id, user_id)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)
    except Exception:
        log.exception("media access check failed; refusing", extra={"check": what, "room_id": room_id,
                                                                   "user_id": user_id})
        return False


class MediaError(RuntimeError):
    """The media server refused or could not be reached. ``code`` is the server's own error code
    (a Janus ``error_code``, a Twirp code) or ``None`` when it could not be reached at all."""

    def __init__(self, message: str, code: int | str | None = None) -> None:
        super().__init__(message if code is None else f"{message} (code {code})")
        self.message = message
        self.code = code


class MediaUnavailable(MediaError):
    """The media server cannot be reached (down, refusing connections, timing out)."""


class MediaRoomNotFound(MediaError):
    """The media server has no such room."""


@dataclass(frozen=True)
class MediaRoom:
    room_id: str  # townhall's room id
    backend: str  # "null" | "janus" | "livekit"
    media_room: str  # the media server's name for it (Janus numeric room id as text, LiveKit name)


@dataclass(frozen=True)
class JoinCredentials:
    """What one client needs to join one room's audio.

    ``connection_url`` packs it all into one string (the Community Voice Chat ``connection_url``,
    the Clubhouse ``token``): ``janus:<server_url>?room=..&pin=..&id=..&token=..&muted=..`` (a Janus
    AudioBridge room), ``janus:<server_url>?stream=..&pin=..`` (a listener of a large Janus room: the
    room's mix on a Streaming mountpoint, recv-only; ``extra["plugin"]`` names the plugin) or
    ``livekit:<server_url>?access_token=<jwt>``.
    """

    backend: str
    server_url: str
    room_id: str
    media_room: str
    user_id: str
    can_publish: bool
    connection_url: str
    token: str = ""  # per-user token (Janus AudioBridge `token`, LiveKit access token)
    pin: str = ""  # room pin (Janus)
    participant_id: str = ""  # the media server's id for this user in this room
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaParticipant:
    user_id: str
    muted: bool  # not heard in the room now
    connected: bool = True  # media (WebRTC) is set up, not only signalling


@dataclass(frozen=True)
class MediaEvent:
    kind: EventKind
    room_id: str
    user_id: str
    # For "left": True when the client left on purpose (a Janus `leave`, a LiveKit client-initiated
    # disconnect); False when it dropped or timed out (presence then keeps a grace period).
    voluntary: bool = False


@runtime_checkable
class MediaBackend(Protocol):
    """The operations the rooms core needs. Every method raises ``MediaError`` on failure."""

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create_room(self, room_id: str) -> MediaRoom:
        """Create the room (idempotent: an existing room is returned as it is)."""
        ...

    async def destroy_room(self, room_id: str) -> None:
        """End the room's audio for everyone (idempotent: a missing room is not an error)."""
        ...

    async def credentials(self, room_id: str, user_id: str, *, can_publish: bool,
                          allow_stream: bool = True) -> JoinCredentials:
        """What the user needs to join the room's audio. ``allow_stream=False``: never a large room's
        one-way stream (backends without one ignore it)."""
        ...

    async def set_publish(self, room_id: str, user_id: str, allowed: bool) -> None:
        """Let the user be heard (promotion, unmute) or not (demotion, moderator mute)."""
        ...

    async def kick(self, room_id: str, user_id: str) -> None:
        """Cut the user's audio and refuse the credentials they had."""
        ...

    async def participants(self, room_id: str) -> list[MediaParticipant]: ...

    async def watch(self, room_id: str) -> None:
        """Follow the room's joins/leaves from this process and enforce its publish rights there. The
        rooms core calls it for its live rooms when a process starts (rooms are followed by the process
        that created them until it stops). Raises MediaRoomNotFound if the media server has no such room."""
        ...

    def set_access(self, *, may_join: AccessCheck | None = None, may_publish: AccessCheck | None = None) -> None:
        """Who may be in a room and who may be heard there, asked whenever the media server reports a
        join or someone audible (see ``AccessCheck``). Production wiring passes the rooms core's
        answers (shared state); without them each backend falls back to what it knows (see each one).
        Each call replaces both checks."""
        ...

    def subscribe(self) -> AsyncIterator[MediaEvent]:
        """Joins and leaves learnt from the media server, as they happen (see ``EventHub``)."""
        ...

    def on_event(self, callback: Callable[[MediaEvent], Awaitable[None]]) -> None:
        """Also call ``callback`` for every join/leave (errors are logged, never raised)."""
        ...


class EventHub:
    """Fans media events out to callbacks and to async iterators (each with a bounded queue)."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: set[asyncio.Queue[MediaEvent | None]] = set()
        self._callbacks: list[Callable[[MediaEvent], Awaitable[None]]] = []
        self._queue_size = queue_size

    def on_event(self, callback: Callable[[MediaEvent], Awaitable[None]]) -> None:
        self._callbacks.append(callback)

    async def subscribe(self) -> AsyncIterator[MediaEvent]:
        queue: asyncio.Queue[MediaEvent | None] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._queues.discard(queue)

    async def emit(self, event: MediaEvent) -> None:
        for queue in list(self._queues):
            if queue.full():  # a slow reader loses its oldest events, never blocks the others
                queue.get_nowait()
            queue.put_nowait(event)
        for callback in list(self._callbacks):
            try:
                await callback(event)
            except Exception:
                log.exception("media event callback failed", extra={"event": repr(event)})

    def close(self) -> None:
        for queue in list(self._queues):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)
