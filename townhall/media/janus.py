"""The ``janus`` media backend: Janus AudioBridge rooms driven over the Janus HTTP API.

How townhall names things in Janus (deterministic, so any townhall process can act on any room, but
secret: in direct mode clients reach the Janus API themselves, and anyone who could compute a room's
number could ``listparticipants`` it):

- room number = ``janus_number(key, "room", room_id)``; participant id = ``janus_number(key, "user",
  user_id)``: the first 8 bytes of an HMAC-SHA256 under the media secret folded into [2^32, 2^53)
  (JSON-safe integers). Ids below 2^32 are this backend's own monitor participants, never users.
- room ``secret`` (needed to mute, kick, destroy, edit the allowed list), ``pin`` (needed to join)
  and each user's join ``token`` are HMAC-SHA256 (of the JSON list [what, room, user]) under the
  media secret (MediaSettings.secret, by default derived from the chat API secret).
- rooms are created with ``admin_key``, ``sampling_rate`` 16000, ``permanent: false``, private, and
  an ``allowed`` token list: ``credentials()`` adds the user's token, ``kick()`` removes it, so a
  kicked user cannot join again with the credentials they had.
- clients join with ``id`` = their participant id, ``display`` = their user id sealed under the media
  secret (opaque to other clients; any townhall process opens it: ``seal_display``), ``pin``,
  ``token`` and ``muted`` = not allowed to publish (the credentials say all of this).

Who signals to Janus: AudioBridge does not bind a token to an id, and every participant's id is
visible to the room, so a client talking to Janus could join under another user's id while that
user is absent. Hence two modes. Proxy mode (``proxy_url``, the default wiring): Janus demands
``api_secret`` (only townhall has it), clients signal through townhall's proxy at ``proxy_url``, and
their credentials' ``token`` is a ticket (townhall.media.janus_tickets) whose room, id, display,
pin, token and muted the proxy puts into the join (``relay``). Direct mode (no ``proxy_url``:
``public_url`` or the Janus URL): clients get the real token and join Janus themselves; identity is
then only asserted by the client.

Joins and leaves: for every room it created (or was asked to ``watch``), the backend joins a media-less
"monitor" participant on its own plugin handle; Janus then sends it the room's joined / leaving /
kicked / muted notifications, which arrive on the session's long-poll (``GET /janus/<session>``,
run as a background task that also keeps the session alive). ``watch(room_id)`` is the API the rooms
core calls when a process starts, for the live rooms it should follow (the creating process follows a
room until it stops).

Every leave Janus reports is reported not ``voluntary``. Measured with Janus 1.1.2: AudioBridge sends
the same ``leaving`` for a ``leave`` request, a detached handle, a destroyed session, a closed
PeerConnection and a session that timed out (a client that vanished, ``session_timeout`` later); the
plugin API cannot tell them apart (only Janus's event handlers could). Counting them all as drops keeps
the presence grace period for a lost connection (a room is not ended a minute after its moderator's
network failed); a deliberate leave reaches townhall through the surface's own API anyway.

Who may be heard is an allowlist decided by shared state: whenever a participant is seen unmuted (an
event, or the ``listparticipants`` sweep of the watched rooms every ``sweep_interval`` seconds), the
``may_publish(room_id, user_id)`` check is asked and the participant is muted unless it says yes;
a participant seen joining whom ``may_join`` refuses is kicked. Both are given to the constructor or
``set_access``. Without ``may_publish`` the backend answers from its own record (who this process gave
publishing credentials or ``set_publish(True)``): right for one process and the tests, but another
worker's speakers would be muted, so production wiring must pass the rooms core's check (database).

Large rooms (``large_room_listeners`` > 0, MediaSettings.large_room_listeners): every AudioBridge
participant costs an Opus encode of the mix, so once a room's bridge holds that many listeners (muted
participants), further listeners get credentials for the room's Streaming mountpoint instead:
``janus:<url>?stream=<id>&pin=<pin>`` (``extra["plugin"]`` = ``janus.plugin.streaming``; the client
``watch``es it, recv-only). The mountpoint (private, pinned, RTP on 127.0.0.1 only, id/secret/pin
derived like the room's) is fed by ONE AudioBridge ``rtp_forward`` of the room's mix, encoded once
however many watch it. Made on first need, idempotently (a forwarder is added only if none feeds the
mountpoint; if two processes raced, the oldest is kept and the others stopped), destroyed with the
room. Speakers always join the bridge: a stream listener who is promoted needs fresh credentials
to be heard (``accept_speaker_invite`` gives them; ``set_publish`` cannot reach a mountpoint). A
mountpoint cannot admit or drop one viewer: its listeners are not reported as joins or leaves, and
``kick`` cannot cut one of them off: a kicked stream listener keeps the mountpoint's pin, and hears
the room, until the room ends (or they leave). So the stream is for rooms whose presence does not
come from the media server (Clubhouse rooms, whose clients ping): the rooms core keeps voice rooms
(presence = media connection) and anyone who moderates off it (``credentials(allow_stream=False)``).

If Janus restarts (session gone, error 458), the backend creates a new session, re-creates its rooms
with the same secrets, re-adds the tokens it issued and re-joins its monitors; presence is then
re-synchronised (``left`` for who is gone).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from townhall.media.base import (
    AccessCheck,
    EventHub,
    JoinCredentials,
    MediaError,
    MediaEvent,
    MediaParticipant,
    MediaRoom,
    MediaRoomNotFound,
    MediaUnavailable,
    ask,
)
from townhall.media.janus_tickets import Tickets, admit

log = logging.getLogger(__name__)

PLUGIN = "janus.plugin.audiobridge"
STREAMING_PLUGIN = "janus.plugin.streaming"
OPUS_PT = 111  # the RTP payload type of the forwarded mix
SAMPLING_RATE = 16000
USER_ID_BASE = 2**32
MAX_JSON_INT = 2**53
# janus core / AudioBridge error codes this module acts on
UNAUTHORIZED_REQUEST = 403  # core: wrong or missing api secret
SESSION_NOT_FOUND = 458
HANDLE_NOT_FOUND = 459
NO_SUCH_ROOM = 485
ROOM_EXISTS = 486
NO_SUCH_USER = 492
UNAUTHORIZED = 489
NO_SUCH_MOUNTPOINT = 455  # Streaming plugin
MOUNTPOINT_EXISTS = 456
API_SECRET_HINT = ("Janus wants its api_secret (TOWNHALL_MEDIA__JANUS_API_SECRET, or the janus.json of "
                   "`townhall janus start`)")
MAX_RELAYED_POLLS = 512  # clients' long-polls relayed at once by one process
MAX_POLLS_PER_SESSION = 2
TOO_MANY_POLLS = 429
LONG_POLL_READ = 65.0  # seconds: Janus holds a long-poll up to ~30 s (maxev), a relayed one as long


def janus_number(key: bytes, kind: str, value: str) -> int:
    """A stable JSON-safe integer in [2^32, 2^53) naming ``value`` (a room or user id) in Janus; only
    who knows ``key`` (the media secret) can compute it."""
    digest = hmac.new(key, json.dumps(["number", kind, value]).encode(), hashlib.sha256).digest()
    return USER_ID_BASE + int.from_bytes(digest[:8], "big") % (MAX_JSON_INT - USER_ID_BASE)


class SessionGone(MediaError):
    """Janus no longer knows our session or handle (it restarted, or the session timed out)."""


class JanusClient:
    """The Janus HTTP API: sessions, handles, plugin messages, the long-poll. Errors → MediaError.

    ``api_secret`` (the Janus ``general.api_secret``) goes into every request: in the body of a POST,
    as the ``apisecret`` query parameter of the long-poll. The signalling proxy relays clients'
    requests through the same two paths (``check=False``: Janus's answer as it came)."""

    def __init__(self, url: str, timeout: float = 10.0, *, api_secret: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._api_secret = api_secret
        # no connection cap: the proxy relays the requests and long-polls of every connected client
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits)
        self._poll_http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=LONG_POLL_READ), limits=limits)

    async def close(self) -> None:
        await self._http.aclose()
        await self._poll_http.aclose()

    async def _post(self, path: str, body: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
        """Every POST to Janus goes through here; ``check=False`` returns an error answer instead of
        raising it (a relayed client request). A ``transaction`` the body has is kept."""
        body = {"transaction": secrets.token_hex(8), **body}
        if self._api_secret is not None:
            body["apisecret"] = self._api_secret
        try:
            response = await self._http.post(f"{self.url}{path}", json=body)
            answer = response.json()
        except httpx.HTTPError as exc:
            raise MediaUnavailable(f"Janus at {self.url} is unreachable: {exc!r}") from exc
        except ValueError as exc:
            raise MediaError(f"Janus at {self.url} answered {response.status_code} with no JSON") from exc
        if not isinstance(answer, dict):
            raise MediaError(f"Janus at {self.url} answered {response.status_code} with JSON that is not an object")
        return _checked(answer) if check else answer

    async def relay(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A client's request (already admitted by the proxy's gate), answered as Janus answered it."""
        return await self._post(path, body, check=False)

    async def create_session(self) -> int:
        return int((await self._post("", {"janus": "create"}))["data"]["id"])

    async def attach(self, session: int, plugin: str = PLUGIN) -> int:
        return int((await self._post(f"/{session}", {"janus": "attach", "plugin": plugin}))["data"]["id"])

    async def detach(self, session: int, handle: int) -> None:
        await self._post(f"/{session}/{handle}", {"janus": "detach"})

    async def destroy_session(self, session: int) -> None:
        await self._post(f"/{session}", {"janus": "destroy"})

    async def message(self, session: int, handle: int, body: dict[str, Any]) -> dict[str, Any] | None:
        """A plugin request: its ``plugindata.data`` (synchronous ones), None once acked (asynchronous)."""
        answer = await self._post(f"/{session}/{handle}", {"janus": "message", "body": body})
        if answer.get("janus") == "ack":
            return None
        data = dict(answer.get("plugindata", {}).get("data", {}))
        _check_plugin(data, body.get("request", "?"))
        return data

    async def long_poll(self, session: int, maxev: int = 10) -> Any:
        """One long-poll as Janus answered it (an event, a list of events or a keepalive after ~30 s
        of silence); SessionGone when Janus does not know the session."""
        params: dict[str, Any] = {"maxev": maxev}
        if self._api_secret is not None:
            params["apisecret"] = self._api_secret
        try:
            response = await self._poll_http.get(f"{self.url}/{session}", params=params)
            if response.status_code == 404:  # Janus answers an unknown session's long-poll with a bare 404
                raise SessionGone(f"Janus: no such session {session}", SESSION_NOT_FOUND)
            if response.status_code == UNAUTHORIZED_REQUEST:  # and a wrong or missing api secret with a bare 403
                raise MediaError(f"Janus: long-poll refused: {API_SECRET_HINT}", UNAUTHORIZED_REQUEST)
            return response.json()
        except httpx.HTTPError as exc:
            raise MediaUnavailable(f"Janus at {self.url} is unreachable: {exc!r}") from exc
        except ValueError as exc:
            raise MediaError("Janus long-poll answered with no JSON") from exc

    async def poll(self, session: int, maxev: int = 10) -> list[dict[str, Any]]:
        """One long-poll: up to ``maxev`` events (a keepalive after ~30 s of silence)."""
        answer = await self.long_poll(session, maxev)
        events = answer if isinstance(answer, list) else [answer]
        for event in events:
            if event.get("janus") == "error":
                _checked(event)
        return events


def _checked(answer: dict[str, Any]) -> dict[str, Any]:
    if answer.get("janus") == "error":
        error = answer.get("error", {})
        code, reason = error.get("code"), error.get("reason", "unknown error")
        if code in (SESSION_NOT_FOUND, HANDLE_NOT_FOUND):
            raise SessionGone(f"Janus: {reason}", code)
        if code == UNAUTHORIZED_REQUEST:
            reason = f"{reason}: {API_SECRET_HINT}"
        raise MediaError(f"Janus: {reason}", code)
    return answer


def _check_plugin(data: dict[str, Any], request: str) -> None:
    if "error_code" in data:
        code = data["error_code"]
        plugin = "Streaming" if "streaming" in data else "AudioBridge"
        message = f"Janus {plugin} {request}: {data.get('error', 'error')}"
        if code == NO_SUCH_ROOM and plugin == "AudioBridge":
            raise MediaRoomNotFound(message, code)
        raise MediaError(message, code)


@dataclass
class _Room:
    room_id: str
    number: int
    monitor_handle: int | None = None
    monitor_id: int = 0
    present: dict[str, MediaParticipant] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)


class JanusMediaBackend:
    name = "janus"

    def __init__(
        self,
        url: str,
        *,
        admin_key: str,
        secret: str,
        public_url: str | None = None,
        api_secret: str | None = None,
        proxy_url: str | None = None,
        ticket_ttl: int = 3600,
        timeout: float = 10.0,
        retry_interval: float = 0.5,
        sweep_interval: float = 15.0,
        may_join: AccessCheck | None = None,
        may_publish: AccessCheck | None = None,
        large_room_listeners: int = 0,
    ) -> None:
        self.url = url.rstrip("/")
        self.large_room_listeners = large_room_listeners
        self.public_url = (public_url or url).rstrip("/")
        self.proxy_url = proxy_url.rstrip("/") if proxy_url else None
        self._admin_key = admin_key
        self._secret = secret.encode()
        self._client = JanusClient(self.url, timeout, api_secret=api_secret)
        self.tickets = Tickets(bytes.fromhex(self._derive("ticket-key")), ttl=ticket_ttl)
        self._retry_interval = retry_interval
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        self._speakers: dict[str, set[str]] = {}  # the default may_publish: room -> users this process let publish
        self.set_access(may_join=may_join, may_publish=may_publish)
        self._hub = EventHub()
        self._rooms: dict[str, _Room] = {}
        self._by_number: dict[int, _Room] = {}
        self._by_monitor: dict[int, _Room] = {}
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._names: dict[int, str] = {}
        self._session: int | None = None
        self._handle: int | None = None
        self._stream_handle: int | None = None  # attached to the Streaming plugin on first need
        self._stream_lock = asyncio.Lock()
        self._streams: set[str] = set()  # rooms whose mountpoint and forwarder are known to exist (this session)
        self._connect_lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self._closed = False
        self.recoveries = 0  # how many times a new session was made after losing one
        self._relayed_polls: dict[int, int] = {}  # session -> clients' long-polls relayed now

    # -- naming

    def _derive(self, *parts: str) -> str:
        message = json.dumps(parts).encode()  # unambiguous whatever the ids contain
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def room_number(self, room_id: str) -> int:
        return janus_number(self._secret, "room", room_id)

    def participant_id(self, user_id: str) -> int:
        number = janus_number(self._secret, "user", user_id)
        self._names[number] = user_id
        return number

    def _display_stream(self, number: int, size: int) -> bytes:
        blocks = (bytes.fromhex(self._derive("display", str(number), str(i))) for i in range(size // 32 + 1))
        return b"".join(blocks)[:size]

    def seal_display(self, user_id: str) -> str:
        """The ``display`` a user joins with: the user id encrypted under the media secret (the key
        stream is keyed by the participant id, itself an HMAC of the user id), so other clients of the
        room learn nothing from it while any townhall process can open it (``open_display``)."""
        data = user_id.encode()
        sealed = bytes(a ^ b for a, b in zip(data, self._display_stream(self.participant_id(user_id), len(data))))
        return "th1." + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def open_display(self, number: int, display: str) -> str | None:
        """The user id sealed in ``display`` for participant ``number``; None if it is not one of ours."""
        if not display.startswith("th1."):
            return None
        try:
            sealed = base64.urlsafe_b64decode(display[4:] + "=" * (-len(display[4:]) % 4))
            user_id = bytes(a ^ b for a, b in zip(sealed, self._display_stream(number, len(sealed)))).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return user_id if janus_number(self._secret, "user", user_id) == number else None

    def room_secret(self, room_id: str) -> str:
        return self._derive("secret", room_id)

    def room_pin(self, room_id: str) -> str:
        return self._derive("pin", room_id)[:20]

    def user_token(self, room_id: str, user_id: str) -> str:
        return self._derive("token", room_id, user_id)[:32]

    def stream_number(self, room_id: str) -> int:
        """The id of the room's Streaming mountpoint (large rooms)."""
        return janus_number(self._secret, "stream", room_id)

    def stream_secret(self, room_id: str) -> str:
        return self._derive("stream-secret", room_id)

    def stream_pin(self, room_id: str) -> str:
        return self._derive("stream-pin", room_id)[:20]

    # -- access

    def set_access(self, *, may_join: AccessCheck | None = None, may_publish: AccessCheck | None = None) -> None:
        self._may_join = may_join
        self._may_publish = may_publish or self._own_may_publish

    def _own_may_publish(self, room_id: str, user_id: str) -> bool:
        """The default ``may_publish``: this process's own record (one process only, see above)."""
        return user_id in self._speakers.get(room_id, ())

    def _note_publish(self, room_id: str, user_id: str, allowed: bool) -> None:
        speakers = self._speakers.setdefault(room_id, set())
        (speakers.add if allowed else speakers.discard)(user_id)

    # -- lifecycle

    async def start(self) -> None:
        self._closed = False
        try:
            await self._connect()
        except MediaUnavailable as exc:
            log.warning("Janus not reachable yet; will keep trying", extra={"url": self.url, "error": str(exc)})
        self._poller = asyncio.create_task(self._poll_loop(), name="janus-long-poll")
        if self._sweep_interval > 0:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="janus-sweep")

    async def close(self) -> None:
        self._closed = True
        for task in (self._poller, self._sweeper):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._poller = self._sweeper = None
        if self._session is not None:
            try:
                await self._client.destroy_session(self._session)
            except MediaError:
                pass
        self._session = self._handle = self._stream_handle = None
        self._hub.close()
        await self._client.close()

    async def _connect(self, lost: int | None = None) -> int:
        """The current session, creating it if there is none or ``lost`` is the one that was lost;
        then (outside the lock, so a request failing meanwhile can reconnect again) our rooms are
        re-created and their monitors re-joined."""
        async with self._connect_lock:
            if self._session is not None and self._session != lost:
                return self._session
            recovering = self._session is not None or bool(self._rooms)
            self._session = self._handle = None
            session = await self._client.create_session()
            handle = await self._client.attach(session)
            self._session, self._handle, self._stream_handle = session, handle, None
            self._streams.clear()  # a new Janus has no mountpoints: made again on first need
            self._by_monitor.clear()
            for room in self._rooms.values():
                room.monitor_handle = None
        if recovering:
            log.warning("Janus session (re)created; recovering rooms", extra={"rooms": len(self._rooms)})
            for room in list(self._rooms.values()):
                try:
                    await self._ensure_room(room)
                    if room.monitor_handle is None:
                        await self._join_monitor(room)
                except MediaError:
                    log.exception("could not recover media room", extra={"room_id": room.room_id})
            self.recoveries += 1
        return session

    async def _request(self, body: dict[str, Any], *, streaming: bool = False) -> dict[str, Any]:
        """A synchronous AudioBridge (or Streaming) request on the admin handle, reconnecting once if needed."""
        for attempt in (1, 2):
            session = self._session if self._session is not None else await self._connect()
            try:
                handle = await self._streaming_handle(session) if streaming else self._handle
                assert handle is not None
                data = await self._client.message(session, handle, body)
            except SessionGone:
                if attempt == 2:
                    raise
                await self._connect(lost=session)
                continue
            if data is None:
                plugin = "Streaming" if streaming else "AudioBridge"
                raise MediaError(f"Janus {plugin} {body.get('request')}: unexpected asynchronous answer")
            return data
        raise AssertionError("unreachable")

    async def _streaming_handle(self, session: int) -> int:
        async with self._stream_lock:
            if self._stream_handle is None or self._session != session:
                handle = await self._client.attach(session, STREAMING_PLUGIN)
                if self._session != session:  # the session was replaced meanwhile: retry on the new one
                    raise SessionGone("Janus session replaced", SESSION_NOT_FOUND)
                self._stream_handle = handle
            return self._stream_handle

    # -- rooms

    def _room(self, room_id: str) -> _Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = _Room(room_id, self.room_number(room_id))
        return room

    async def _ensure_room(self, room: _Room) -> None:
        body = {
            "request": "create",
            "room": room.number,
            "admin_key": self._admin_key,
            "secret": self.room_secret(room.room_id),
            "pin": self.room_pin(room.room_id),
            "description": "townhall",  # not the room id: nothing a Janus client sees may name it
            "sampling_rate": SAMPLING_RATE,
            "is_private": True,
            "permanent": False,
            "allowed": sorted(room.tokens),
        }
        try:
            await self._request(body)
        except MediaError as exc:
            if exc.code != ROOM_EXISTS:
                raise
            if room.tokens:
                await self._allowed(room, "add", sorted(room.tokens))

    async def create_room(self, room_id: str) -> MediaRoom:
        async with self._room_locks.setdefault(room_id, asyncio.Lock()):  # one monitor per room
            room = self._room(room_id)
            await self._ensure_room(room)
            self._remember(room)
            if room.monitor_handle is None:
                await self._join_monitor(room)
        return MediaRoom(room_id=room_id, backend=self.name, media_room=str(room.number))

    async def watch(self, room_id: str) -> None:
        """Follow joins/leaves of a room another process created (it must exist: else MediaRoomNotFound)
        and enforce its publish rights from here (events and the sweep). The rooms core calls it when a
        process starts, for the live rooms it should follow; calling it again is harmless."""
        async with self._room_locks.setdefault(room_id, asyncio.Lock()):
            room = self._room(room_id)
            if not await self._exists(room):
                raise MediaRoomNotFound(f"no media room for {room_id!r}", NO_SUCH_ROOM)
            self._remember(room)
            if room.monitor_handle is None:
                await self._join_monitor(room)

    def _remember(self, room: _Room) -> None:
        self._rooms[room.room_id] = room
        self._by_number[room.number] = room

    async def _exists(self, room: _Room) -> bool:
        return bool((await self._request({"request": "exists", "room": room.number})).get("exists"))

    async def destroy_room(self, room_id: str) -> None:
        room = self._room(room_id)
        try:
            await self._request({"request": "destroy", "room": room.number, "secret": self.room_secret(room_id)})
        except MediaRoomNotFound:
            pass
        if self.large_room_listeners or room_id in self._streams:  # its mountpoint, if one was made
            await self._destroy_stream(room_id)
        await self._forget(room)

    async def _destroy_stream(self, room_id: str) -> None:
        self._streams.discard(room_id)
        try:
            await self._request({"request": "destroy", "id": self.stream_number(room_id),
                                 "secret": self.stream_secret(room_id)}, streaming=True)
        except MediaError as exc:
            if exc.code != NO_SUCH_MOUNTPOINT:
                raise

    async def _forget(self, room: _Room) -> None:
        self._rooms.pop(room.room_id, None)
        self._streams.discard(room.room_id)
        self._speakers.pop(room.room_id, None)
        self._room_locks.pop(room.room_id, None)
        self._by_number.pop(room.number, None)
        if room.monitor_handle is not None:
            self._by_monitor.pop(room.monitor_handle, None)
            if self._session is not None:
                try:
                    await self._client.detach(self._session, room.monitor_handle)
                except MediaError:
                    pass
            room.monitor_handle = None
        present, room.present = room.present, {}
        for user_id in present:
            await self._hub.emit(MediaEvent("left", room.room_id, user_id))

    async def _allowed(self, room: _Room, action: str, tokens: list[str]) -> None:
        await self._request({
            "request": "allowed", "room": room.number, "secret": self.room_secret(room.room_id),
            "action": action, "allowed": tokens,
        })

    # -- participants

    @property
    def client_url(self) -> str:
        """Where clients signal: townhall's proxy, or (direct mode) Janus itself."""
        return self.proxy_url or self.public_url

    async def relay(self, message: Any, session: int | None = None, handle: int | None = None) -> dict[str, Any]:
        """A client's request to the signalling proxy: admitted by the gate (``Refused`` otherwise; a
        join's ticket replaces the identity it claims), sent to Janus with the api secret, answered
        as Janus answered."""
        admitted = admit(message, self.tickets, session=session is not None, handle=handle is not None)
        path = "".join(f"/{part}" for part in (session, handle) if part is not None)
        return await self._client.relay(path, admitted)

    async def relay_poll(self, session: int, maxev: int = 10) -> Any:
        """A client's long-poll through the proxy, answered as Janus answered (SessionGone: no such session).

        Each one holds a connection to Janus for up to ~30 s, and opening one needs no ticket: at
        most ``MAX_POLLS_PER_SESSION`` per session and ``MAX_RELAYED_POLLS`` in all are relayed at
        once (a client needs one), so nobody can use up the process's connections."""
        waiting = self._relayed_polls.get(session, 0)
        if waiting >= MAX_POLLS_PER_SESSION or sum(self._relayed_polls.values()) >= MAX_RELAYED_POLLS:
            raise MediaError("too many long-polls at once: keep one per session", TOO_MANY_POLLS)
        self._relayed_polls[session] = waiting + 1
        try:
            return await self._client.long_poll(session, max(1, min(maxev, 100)))
        finally:
            left = self._relayed_polls[session] - 1
            if left:
                self._relayed_polls[session] = left
            else:
                del self._relayed_polls[session]

    async def credentials(self, room_id: str, user_id: str, *, can_publish: bool,
                          allow_stream: bool = True) -> JoinCredentials:
        """AudioBridge credentials; for a listener of a full large room (``allow_stream``), the room's
        Streaming mountpoint instead."""
        room = self._room(room_id)
        if (allow_stream and not can_publish and self.large_room_listeners
                and await self._bridge_is_full(room, user_id)):
            self._note_publish(room_id, user_id, False)
            return await self._stream_credentials(room, user_id)
        token = self.user_token(room_id, user_id)
        await self._allowed(room, "add", [token])  # raises MediaRoomNotFound for an unknown room
        room.tokens.add(token)
        self._note_publish(room_id, user_id, can_publish)
        participant = self.participant_id(user_id)
        pin = self.room_pin(room_id)
        display = self.seal_display(user_id)
        if self.proxy_url:  # the client's token is a ticket the proxy checks and turns into the real join
            token = self.tickets.bridge(room=room.number, id=participant, display=display, pin=pin, token=token,
                                        muted=not can_publish)
        query = urlencode({
            "room": room.number, "pin": pin, "id": participant, "display": display, "token": token,
            "muted": str(not can_publish).lower(),
        })
        server_url = self.client_url
        return JoinCredentials(
            backend=self.name, server_url=server_url, room_id=room_id, media_room=str(room.number),
            user_id=user_id, can_publish=can_publish, connection_url=f"janus:{server_url}?{query}",
            token=token, pin=pin, participant_id=str(participant),
            extra={"plugin": PLUGIN, "display": display, "muted": str(not can_publish).lower()},
        )

    # -- large rooms: listeners beyond the threshold watch the room's mix on a Streaming mountpoint

    async def _bridge_is_full(self, room: _Room, user_id: str) -> bool:
        """Whether the bridge already holds ``large_room_listeners`` listeners (muted participants),
        not counting ``user_id`` (in the bridge already: they keep their place there)."""
        data = await self._request({"request": "listparticipants", "room": room.number})
        listeners, me = 0, self.participant_id(user_id)
        for raw in data.get("participants", []):
            number = int(raw.get("id", 0))
            if number == me:
                return False
            listeners += number >= USER_ID_BASE and bool(raw.get("muted", True))
        return listeners >= self.large_room_listeners

    async def _stream_credentials(self, room: _Room, user_id: str) -> JoinCredentials:
        number = await self._ensure_stream(room)
        pin = self.stream_pin(room.room_id)
        fields: dict[str, Any] = {"stream": number, "pin": pin}
        ticket = ""
        if self.proxy_url:
            ticket = fields["token"] = self.tickets.stream(stream=number, pin=pin)
        server_url = self.client_url
        return JoinCredentials(
            backend=self.name, server_url=server_url, room_id=room.room_id, media_room=str(room.number),
            user_id=user_id, can_publish=False, connection_url=f"janus:{server_url}?{urlencode(fields)}", pin=pin,
            token=ticket, extra={"plugin": STREAMING_PLUGIN, "stream": str(number)},
        )

    async def _ensure_stream(self, room: _Room) -> int:
        """The room's mountpoint, fed by one rtp_forward of the room's mix; made once per Janus session."""
        number = self.stream_number(room.room_id)
        if room.room_id in self._streams:
            return number
        async with self._room_locks.setdefault(room.room_id, asyncio.Lock()):
            if room.room_id not in self._streams:
                await self._forward_once(room, await self._mountpoint_port(room.room_id, number))
                self._streams.add(room.room_id)
        return number

    async def _mountpoint_port(self, room_id: str, number: int) -> int:
        """Create the mountpoint (or find the one another process made) and return its RTP port."""
        secret = self.stream_secret(room_id)
        try:
            data = await self._request({
                "request": "create", "admin_key": self._admin_key, "type": "rtp", "id": number,
                "description": "townhall", "is_private": True, "secret": secret, "pin": self.stream_pin(room_id),
                "permanent": False,
                "media": [{"type": "audio", "mid": "a", "port": 0, "pt": OPUS_PT, "codec": "opus", "iface": "127.0.0.1"}],
            }, streaming=True)
            return int(data["stream"]["ports"][0]["port"])
        except MediaError as exc:
            if exc.code != MOUNTPOINT_EXISTS:
                raise
        info = await self._request({"request": "info", "id": number, "secret": secret}, streaming=True)
        return int(info["info"]["media"][0]["port"])

    async def _forward_once(self, room: _Room, port: int) -> None:
        """Exactly one forwarder of the room's mix to ``port``: added if none; if processes raced and
        added several, every process keeps the oldest (lowest stream_id) and stops the others."""
        secret = self.room_secret(room.room_id)

        async def forwarders() -> list[int]:
            data = await self._request({"request": "listforwarders", "room": room.number, "secret": secret})
            return sorted(int(f["stream_id"]) for f in data.get("rtp_forwarders", []) if int(f.get("port", 0)) == port)

        found = await forwarders()
        if not found:
            await self._request({
                "request": "rtp_forward", "room": room.number, "secret": secret, "admin_key": self._admin_key,
                "host": "127.0.0.1", "port": port, "codec": "opus", "ptype": OPUS_PT,
            })
            found = await forwarders()
        for extra in found[1:]:
            await self._request({"request": "stop_rtp_forward", "room": room.number, "secret": secret,
                                 "admin_key": self._admin_key, "stream_id": extra})

    async def set_publish(self, room_id: str, user_id: str, allowed: bool) -> None:
        room = self._room(room_id)
        self._note_publish(room_id, user_id, allowed)
        await self._mute(room, user_id, muted=not allowed)

    async def _mute(self, room: _Room, user_id: str, *, muted: bool) -> None:
        try:
            await self._request({
                "request": "mute" if muted else "unmute", "room": room.number,
                "secret": self.room_secret(room.room_id), "id": self.participant_id(user_id),
            })
        except MediaError as exc:
            if exc.code != NO_SUCH_USER:  # not connected now: they join with the right `muted`
                raise

    async def kick(self, room_id: str, user_id: str) -> None:
        room = self._room(room_id)
        token = self.user_token(room_id, user_id)
        await self._allowed(room, "remove", [token])
        room.tokens.discard(token)
        self._note_publish(room_id, user_id, False)
        try:
            await self._request({
                "request": "kick", "room": room.number, "secret": self.room_secret(room_id),
                "id": self.participant_id(user_id),
            })
        except MediaError as exc:
            if exc.code != NO_SUCH_USER:
                raise

    async def participants(self, room_id: str) -> list[MediaParticipant]:
        room = self._room(room_id)
        data = await self._request({"request": "listparticipants", "room": room.number})
        found = [self._participant(p) for p in data.get("participants", [])]
        return sorted((p for p in found if p is not None), key=lambda p: p.user_id)

    def _participant(self, raw: dict[str, Any]) -> MediaParticipant | None:
        number = int(raw.get("id", 0))
        if number < USER_ID_BASE:
            return None  # a monitor
        user_id = self._names.get(number)
        if user_id is None:
            user_id = self.open_display(number, str(raw.get("display", ""))) or f"janus:{number}"
            self._names[number] = user_id
        return MediaParticipant(user_id, muted=bool(raw.get("muted", True)), connected=bool(raw.get("setup")))

    def subscribe(self) -> AsyncIterator[MediaEvent]:
        return self._hub.subscribe()

    def on_event(self, callback: Callable[[MediaEvent], Awaitable[None]]) -> None:
        self._hub.on_event(callback)

    # -- monitors and the long-poll

    async def _join_monitor(self, room: _Room) -> None:
        session = self._session if self._session is not None else await self._connect()
        handle = await self._client.attach(session)
        room.monitor_id = secrets.randbelow(USER_ID_BASE - 1) + 1
        token = self._derive("monitor", room.room_id)[:32]
        if token not in room.tokens:
            await self._allowed(room, "add", [token])
            room.tokens.add(token)
        room.monitor_handle = handle
        self._by_monitor[handle] = room
        await self._client.message(session, handle, {
            "request": "join", "room": room.number, "pin": self.room_pin(room.room_id), "token": token,
            "id": room.monitor_id, "display": "townhall-monitor", "muted": True,
        })

    async def _poll_loop(self) -> None:
        delay = self._retry_interval
        while not self._closed:
            session = self._session
            try:
                if session is None:
                    session = await self._connect()
                events = await self._client.poll(session)
                delay = self._retry_interval
            except asyncio.CancelledError:
                raise
            except SessionGone:
                await self._reconnect_after_loss(session)
                continue
            except MediaError as exc:
                log.debug("Janus long-poll failed", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for event in events:
                try:
                    await self._on_janus_event(event)
                except Exception:
                    log.exception("could not handle a Janus event", extra={"event": str(event)[:500]})

    async def _reconnect_after_loss(self, session: int | None) -> None:
        try:
            await self._connect(lost=session)
        except MediaError as exc:
            log.debug("Janus reconnect failed", extra={"error": str(exc)})
            await asyncio.sleep(self._retry_interval)

    async def _on_janus_event(self, event: dict[str, Any]) -> None:
        room = self._by_monitor.get(int(event.get("sender", 0) or 0))
        if room is None or event.get("janus") != "event":
            return
        data = event.get("plugindata", {}).get("data", {})
        kind = data.get("audiobridge")
        if "error_code" in data:
            log.warning("Janus monitor error", extra={"room_id": room.room_id, "error": data.get("error")})
            return
        if kind == "destroyed":
            await self._forget(room)
            return
        if kind == "joined" and data.get("id") == room.monitor_id:
            await self._resync(room, data.get("participants", []))  # our own join: the full list
            return
        for raw in data.get("participants", []):
            await self._update(room, raw)
        for key in ("leaving", "kicked"):
            if key in data and int(data[key]) >= USER_ID_BASE:
                await self._gone(room, int(data[key]))

    async def _resync(self, room: _Room, participants: list[dict[str, Any]]) -> None:
        seen = set()
        for raw in participants:
            participant = self._participant(raw)
            if participant is not None:
                seen.add(participant.user_id)
                await self._update(room, raw)
        for user_id in [u for u in room.present if u not in seen]:
            del room.present[user_id]
            await self._hub.emit(MediaEvent("left", room.room_id, user_id))

    async def _update(self, room: _Room, raw: dict[str, Any]) -> None:
        participant = self._participant(raw)
        if participant is None:
            return
        user_id = participant.user_id
        is_new = user_id not in room.present
        if is_new and self._may_join is not None and not await ask(self._may_join, room.room_id, user_id,
                                                                   what="may_join"):
            log.info("kicking a participant the room does not admit", extra={"room_id": room.room_id,
                                                                            "user_id": user_id})
            await self._kick_participant(room, int(raw["id"]))
            return
        room.present[user_id] = participant
        if is_new:
            await self._hub.emit(MediaEvent("joined", room.room_id, user_id))
        if not participant.muted and not await ask(self._may_publish, room.room_id, user_id, what="may_publish"):
            log.info("muting a participant not allowed to publish", extra={"room_id": room.room_id,
                                                                          "user_id": user_id})
            await self._mute(room, user_id, muted=True)

    async def _kick_participant(self, room: _Room, number: int) -> None:
        try:
            await self._request({"request": "kick", "room": room.number, "secret": self.room_secret(room.room_id),
                                 "id": number})
        except MediaError as exc:
            if exc.code != NO_SUCH_USER:
                raise

    # -- the sweep

    async def sweep(self) -> None:
        """Check every watched room's participants once (``listparticipants``): report joins the
        events missed, kick who may not be in, mute who is heard without being allowed to."""
        for room in list(self._rooms.values()):
            try:
                data = await self._request({"request": "listparticipants", "room": room.number})
            except MediaRoomNotFound:
                await self._forget(room)
                continue
            except MediaError as exc:
                log.debug("Janus sweep failed", extra={"room_id": room.room_id, "error": str(exc)})
                continue
            for raw in data.get("participants", []):
                try:
                    await self._update(room, raw)
                except MediaError as exc:
                    log.debug("Janus sweep could not enforce", extra={"room_id": room.room_id, "error": str(exc)})

    async def _sweep_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._sweep_interval)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Janus sweep failed")

    async def _gone(self, room: _Room, number: int) -> None:
        user_id = self._names.get(number, f"janus:{number}")
        if room.present.pop(user_id, None) is not None:
            await self._hub.emit(MediaEvent("left", room.room_id, user_id))
