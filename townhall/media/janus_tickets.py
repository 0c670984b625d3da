"""Join tickets and the gate of townhall's Janus signalling proxy (``/media/janus``).

Why: AudioBridge does not bind a join ``token`` to the participant ``id`` / ``display`` a client
claims, and every participant's id is visible to the whole room in Janus's events. A client talking
to Janus directly could leave and join again under another participant's id with its own token, and
be heard and counted as them. So Janus demands an ``api_secret`` only townhall knows, clients signal
through townhall's proxy, and the proxy lets through only what a room client needs:

- a **ticket** (``Tickets``) is what a client gets as its join ``token`` in proxy mode: a compact
  string signed with a key derived from the media secret, carrying what Janus must be told on join
  (room, participant id, display, pin, the real AudioBridge token, muted; for a large room's stream:
  mountpoint id and pin) and an expiry. It is readable by its holder (nothing in it is of use
  without the api secret) but cannot be altered or forged.
- ``admit()`` is the gate: which Janus requests pass, and for a ``join`` / ``watch`` the ticket is
  checked and its values REPLACE what the client sent, so a client cannot choose its id. A refused
  request raises ``Refused`` and nothing reaches Janus.

No web framework here: the route (townhall.api.media.janus_proxy) only reads the request, calls the
backend's ``relay`` (which calls ``admit`` and forwards) and writes the answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from townhall.media.base import MediaError

AUDIOBRIDGE = "janus.plugin.audiobridge"
STREAMING = "janus.plugin.streaming"
TICKET_PREFIX = "tt1."
REFUSED = 403  # the Janus core's own code for "unauthorized"

# What a client may ask for, by where it sends it: the root, a session, a plugin handle.
ROOT_REQUESTS = frozenset({"create"})
SESSION_REQUESTS = frozenset({"attach", "destroy", "keepalive"})
HANDLE_REQUESTS = frozenset({"message", "trickle", "detach", "hangup"})
ALLOWED_PLUGINS = frozenset({AUDIOBRIDGE, STREAMING})
AUDIOBRIDGE_REQUESTS = frozenset({"join", "configure", "leave"})
STREAMING_REQUESTS = frozenset({"watch", "start", "stop", "pause"})
# Plugin request fields a client may set itself (audio tuning); everything naming who or where the
# client is comes from its ticket, and anything else (rtp, record, filename, group, ...) is refused.
TUNING = frozenset({"prebuffer", "bitrate", "quality", "expected_loss", "volume", "spatial_position", "denoise",
                    "codec", "audio_level_average", "audio_active_packets", "generate_offer"})
JOIN_FROM_TICKET = frozenset({"room", "id", "display", "pin", "token", "muted"})
CONFIGURE_OPTIONS = TUNING | {"muted", "update"}
WATCH_OPTIONS = frozenset({"offer_audio", "offer_video", "offer_data", "media"})
# The top-level fields relayed, per request (anything else is dropped: the api secret is the
# proxy's to add, a session ``id`` is Janus's to choose).
_COMMON = frozenset({"janus", "transaction"})
TOP_LEVEL = {
    "create": _COMMON, "keepalive": _COMMON, "destroy": _COMMON, "detach": _COMMON, "hangup": _COMMON,
    "attach": _COMMON | {"plugin", "opaque_id", "loop_index"},
    "trickle": _COMMON | {"candidate", "candidates"},
    "message": _COMMON | {"body", "jsep"},
}


class Refused(MediaError):
    """The proxy does not relay this request (or its ticket is bad); the message says why, for the
    app developer whose client sent it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, REFUSED)


@dataclass(frozen=True)
class BridgeTicket:
    room: int
    id: int
    display: str
    pin: str
    token: str  # the real AudioBridge token (on the room's allowed list)
    muted: bool
    expires: int


@dataclass(frozen=True)
class StreamTicket:
    stream: int
    pin: str
    expires: int


class Tickets:
    """Makes and opens tickets under ``key`` (derived from the media secret, so any townhall process
    opens the tickets another made)."""

    def __init__(self, key: bytes, ttl: int = 3600) -> None:
        self._key = key
        self.ttl = ttl

    def bridge(self, *, room: int, id: int, display: str, pin: str, token: str, muted: bool) -> str:
        return self._sign({"k": "b", "r": room, "i": id, "d": display, "p": pin, "t": token, "m": muted,
                           "x": int(time.time()) + self.ttl})

    def stream(self, *, stream: int, pin: str) -> str:
        return self._sign({"k": "s", "s": stream, "p": pin, "x": int(time.time()) + self.ttl})

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:20]

    def _sign(self, fields: dict[str, Any]) -> str:
        payload = json.dumps(fields, separators=(",", ":")).encode()
        return f"{TICKET_PREFIX}{_b64(payload)}.{_b64(self._mac(payload))}"

    def _open(self, ticket: Any, kind: str) -> dict[str, Any]:
        if not isinstance(ticket, str) or not ticket.startswith(TICKET_PREFIX) or ticket.count(".") != 2:
            raise Refused("the join token is not a townhall ticket: use the token of the credentials townhall "
                          "gave this user (connection_url `token`)")
        body, _, mac = ticket[len(TICKET_PREFIX):].partition(".")
        try:
            payload, signature = _unb64(body), _unb64(mac)
        except ValueError:
            raise Refused("the ticket is malformed: use the token townhall gave, unchanged") from None
        if not hmac.compare_digest(signature, self._mac(payload)):
            raise Refused("the ticket's signature does not match: it was altered or not made by this townhall")
        fields = json.loads(payload)
        if fields.get("k") != kind:
            wanted = "an AudioBridge join" if kind == "b" else "a Streaming watch"
            raise Refused(f"this ticket is not for {wanted}: use the credentials' own plugin and token")
        if int(fields["x"]) < time.time():
            raise Refused("the ticket has expired: ask townhall for fresh credentials (join the room again)")
        return dict(fields)

    def open_bridge(self, ticket: Any) -> BridgeTicket:
        f = self._open(ticket, "b")
        return BridgeTicket(room=int(f["r"]), id=int(f["i"]), display=str(f["d"]), pin=str(f["p"]),
                            token=str(f["t"]), muted=bool(f["m"]), expires=int(f["x"]))

    def open_stream(self, ticket: Any) -> StreamTicket:
        f = self._open(ticket, "s")
        return StreamTicket(stream=int(f["s"]), pin=str(f["p"]), expires=int(f["x"]))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


def admit(message: Any, tickets: Tickets, *, session: bool, handle: bool) -> dict[str, Any]:
    """The request to send Janus for a client's ``message`` posted to the root (neither), a session
    or a plugin handle; raises ``Refused`` for anything a room client has no business asking."""
    if not isinstance(message, dict):
        raise Refused("a Janus request is a JSON object")
    kind = message.get("janus")
    allowed = HANDLE_REQUESTS if handle else SESSION_REQUESTS if session else ROOT_REQUESTS
    if not isinstance(kind, str) or kind not in allowed:
        where = "a plugin handle" if handle else "a session" if session else "the root"
        raise Refused(f"janus {kind!r} is not relayed on {where} (allowed there: {', '.join(sorted(allowed))})")
    # Only the fields each request needs go on (no client-chosen session ``id`` on create, no secrets).
    admitted = {key: value for key, value in message.items() if key in TOP_LEVEL[kind]}
    plugin = message.get("plugin")
    if kind == "attach" and (not isinstance(plugin, str) or plugin not in ALLOWED_PLUGINS):
        raise Refused(f"attaching to {plugin!r} is not allowed (only {AUDIOBRIDGE} and {STREAMING})")
    if kind == "message":
        admitted["body"] = _plugin_request(message.get("body"), tickets)
    return admitted


def _plugin_request(body: Any, tickets: Tickets) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Refused("a message needs a JSON object `body`")
    request = body.get("request")
    if not isinstance(request, str) or request not in AUDIOBRIDGE_REQUESTS | STREAMING_REQUESTS:
        raise Refused(f"plugin request {request!r} is not relayed (AudioBridge: "
                      f"{', '.join(sorted(AUDIOBRIDGE_REQUESTS))}; Streaming: {', '.join(sorted(STREAMING_REQUESTS))})")
    if request == "join":
        _only(body, TUNING | JOIN_FROM_TICKET, request)
        ticket = tickets.open_bridge(body.get("token"))
        return {**body, "room": ticket.room, "id": ticket.id, "display": ticket.display, "pin": ticket.pin,
                "token": ticket.token, "muted": ticket.muted}
    if request == "configure":
        if "id" in body or "room" in body:
            raise Refused("configure may not name an `id` or `room`: a participant is who its ticket says")
        rest = {key: value for key, value in body.items() if key != "display"}  # the display is the ticket's
        _only(rest, CONFIGURE_OPTIONS, request)
        return rest
    if request == "watch":
        _only(body, WATCH_OPTIONS | {"id", "pin", "token"}, request)
        stream = tickets.open_stream(body.get("token"))
        rest = {key: value for key, value in body.items() if key != "token"}
        return {**rest, "id": stream.stream, "pin": stream.pin}
    return {"request": request}  # leave, start, stop, pause: nothing else to say


def _only(body: dict[str, Any], options: frozenset[str], request: str) -> None:
    extra = sorted(key for key in body if key != "request" and key not in options)
    if extra:
        raise Refused(f"{request} may not carry {', '.join(map(repr, extra))} through townhall's proxy")
