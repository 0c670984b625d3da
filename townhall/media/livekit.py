"""The ``livekit`` media backend: LiveKit (self-hosted or cloud) through ``livekit-api``.

- credentials: an access token (JWT signed with the API secret) whose video grant lets the user
  join exactly this room, subscribe, and publish only when allowed (notes/voice.md); the
  ``connection_url`` is ``livekit:<url>?access_token=<jwt>``.
- set_publish / kick / destroy_room / participants: RoomService over Twirp (UpdateParticipant with
  new permissions, RemoveParticipant, DeleteRoom, ListParticipants). A participant or room LiveKit
  does not know (``not_found``) is not an error for set_publish, kick and destroy_room.
- joins/leaves: LiveKit posts webhooks (to ``POST /media/livekit/webhook``, ``townhall.api.media``);
  ``verify_webhook`` checks their signature (the body's SHA-256 in a JWT signed with the API secret)
  and ``handle_webhook`` turns participant_joined / participant_left into ``MediaEvent``s, a leave
  being ``voluntary`` when LiveKit says the client disconnected itself (CLIENT_INITIATED).

Kicked and demoted users: a token cannot be revoked, so tokens are short-lived (``token_ttl``,
MediaSettings.livekit_token_ttl, 120 s by default: LiveKit itself refreshes the tokens of connected
participants, with their current permissions), listeners may not publish data either, and on every
``participant_joined`` ``handle_webhook`` asks the checks given to ``set_access`` (the rooms core's,
from shared state): someone who may not be in the room is removed (no ``joined`` event), someone who
may not publish but could is downgraded to a listener. Without checks every join is accepted as the
token allows: production wiring must pass the rooms core's.

Replays and retries: a webhook stays valid while its JWT does (LiveKit signs them for 5 minutes), and
LiveKit retries late. ``handle_webhook`` ignores an event whose ``id`` it has seen in the last
``SEEN_FOR_S`` (longer than that validity; at most ``MAX_REMEMBERED`` ids), and a join/leave older
(``created_at``) than the last one it applied for the same participant of the same room. Both are
remembered per process: a replay delivered to another process behind the load balancer is not
caught by the id (the order check still stops a replayed leave once a later event was applied there).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from google.protobuf import json_format
from livekit import api
from livekit.protocol.models import DisconnectReason

from townhall.media.base import (
    AccessCheck,
    EventHub,
    JoinCredentials,
    MediaError,
    MediaEvent,
    MediaParticipant,
    MediaRoom,
    ask,
)
from townhall.media.base import MediaUnavailable as MediaUnavailable

NOT_FOUND = "not_found"
SEEN_FOR_S = 900.0  # webhook ids remembered this long (LiveKit's webhook tokens are valid for 5 minutes)
MAX_REMEMBERED = 50_000  # ids remembered, and participants whose last event time is


class WebhookRejected(MediaError):
    """A webhook whose signature, token or body hash does not check out."""


class WebhookMalformed(MediaError):
    """A correctly signed webhook whose body is not a LiveKit webhook event."""


def verify_webhook(api_key: str, api_secret: str, body: str | bytes, authorization: str) -> api.WebhookEvent:
    """The LiveKit webhook event in ``body`` if ``authorization`` (the ``Authorization`` header:
    a JWT signed with the API secret carrying the body's SHA-256) vouches for it; else WebhookRejected.
    A body that is signed but not a webhook event is WebhookMalformed (the signature is checked first,
    so an unauthenticated caller learns nothing about the body)."""
    raw = body.encode() if isinstance(body, str) else body
    token = authorization.removeprefix("Bearer ").strip()
    if not token:
        raise WebhookRejected("webhook without an Authorization token", "unauthenticated")
    try:
        claims = api.TokenVerifier(api_key, api_secret).verify(token)
        signed_hash = base64.b64decode(claims.sha256 or "", validate=True)
    except Exception as exc:  # the verifier raises jwt errors and bare Exceptions
        raise WebhookRejected(f"webhook rejected: {exc}", "unauthenticated") from exc
    if not signed_hash or not hmac.compare_digest(signed_hash, hashlib.sha256(raw).digest()):
        raise WebhookRejected("webhook rejected: the body does not match the signed hash", "unauthenticated")
    try:
        return json_format.Parse(raw.decode(), api.WebhookEvent(), ignore_unknown_fields=True)
    except (UnicodeDecodeError, json_format.ParseError) as exc:
        raise WebhookMalformed(f"webhook body is not a LiveKit event: {exc}", "malformed") from exc


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


class LiveKitMediaBackend:
    name = "livekit"

    def __init__(
        self,
        url: str,
        *,
        api_key: str,
        api_secret: str,
        api_url: str | None = None,
        token_ttl: int = 120,
        timeout: float = 10.0,
        may_join: AccessCheck | None = None,
        may_publish: AccessCheck | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_url = (api_url or _http_url(url)).rstrip("/")
        self._key = api_key
        self._secret = api_secret
        self._ttl = datetime.timedelta(seconds=token_ttl)
        self._timeout = timeout
        self._api: api.LiveKitAPI | None = None
        self._hub = EventHub()
        self._seen: OrderedDict[str, float] = OrderedDict()  # webhook id -> monotonic time it came
        self._latest: OrderedDict[tuple[str, str], int] = OrderedDict()  # (room, identity) -> created_at applied
        self.set_access(may_join=may_join, may_publish=may_publish)

    def set_access(self, *, may_join: AccessCheck | None = None, may_publish: AccessCheck | None = None) -> None:
        self._may_join, self._may_publish = may_join, may_publish

    async def watch(self, room_id: str) -> None:
        """Nothing to do: LiveKit reports every room's joins and leaves by webhook to any process."""

    async def start(self) -> None:
        if self._api is None:
            self._api = api.LiveKitAPI(
                self.api_url, self._key, self._secret, timeout=aiohttp.ClientTimeout(total=self._timeout),
                failover=False,
            )

    async def close(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None
        self._hub.close()

    @property
    def _rooms(self) -> Any:
        if self._api is None:
            raise MediaError("the LiveKit backend is not started")
        return self._api.room

    async def _call(self, what: str, call: Awaitable[object], *, missing_ok: bool = False) -> object:
        try:
            return await call
        except api.TwirpError as exc:
            if missing_ok and exc.code == NOT_FOUND:
                return None
            raise MediaError(f"LiveKit {what}: {exc.message}", exc.code) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaUnavailable(f"LiveKit at {self.api_url} is unreachable: {exc!r}") from exc

    # -- rooms

    async def create_room(self, room_id: str) -> MediaRoom:
        await self._call("CreateRoom", self._rooms.create_room(api.CreateRoomRequest(name=room_id, empty_timeout=300)))
        return MediaRoom(room_id=room_id, backend=self.name, media_room=room_id)

    async def destroy_room(self, room_id: str) -> None:
        await self._call("DeleteRoom", self._rooms.delete_room(api.DeleteRoomRequest(room=room_id)), missing_ok=True)

    # -- participants

    def access_token(self, room_id: str, user_id: str, *, can_publish: bool) -> str:
        grants = api.VideoGrants(
            room_join=True, room=room_id, can_publish=can_publish, can_subscribe=True,
            can_publish_data=can_publish, can_update_own_metadata=False,
        )
        token = api.AccessToken(self._key, self._secret).with_identity(user_id).with_grants(grants)
        return token.with_ttl(self._ttl).to_jwt()

    async def credentials(self, room_id: str, user_id: str, *, can_publish: bool,
                          allow_stream: bool = True) -> JoinCredentials:
        """An access token for the room (``allow_stream`` changes nothing: every LiveKit listener is a
        subscriber-only participant of the room itself, reported by webhooks like anyone else)."""
        token = self.access_token(room_id, user_id, can_publish=can_publish)
        return JoinCredentials(
            backend=self.name, server_url=self.url, room_id=room_id, media_room=room_id, user_id=user_id,
            can_publish=can_publish, connection_url=f"livekit:{self.url}?{urlencode({'access_token': token})}",
            token=token, participant_id=user_id,
        )

    async def set_publish(self, room_id: str, user_id: str, allowed: bool) -> None:
        permission = api.ParticipantPermission(can_subscribe=True, can_publish=allowed, can_publish_data=allowed)
        request = api.UpdateParticipantRequest(room=room_id, identity=user_id, permission=permission)
        await self._call("UpdateParticipant", self._rooms.update_participant(request), missing_ok=True)

    async def kick(self, room_id: str, user_id: str) -> None:
        request = api.RoomParticipantIdentity(room=room_id, identity=user_id)
        await self._call("RemoveParticipant", self._rooms.remove_participant(request), missing_ok=True)

    async def participants(self, room_id: str) -> list[MediaParticipant]:
        answer = await self._call(
            "ListParticipants", self._rooms.list_participants(api.ListParticipantsRequest(room=room_id))
        )
        assert isinstance(answer, api.ListParticipantsResponse)
        found = []
        for info in answer.participants:
            audible = info.permission.can_publish and any(not track.muted for track in info.tracks)
            found.append(MediaParticipant(info.identity, muted=not audible, connected=info.state == info.ACTIVE))
        return sorted(found, key=lambda p: p.user_id)

    # -- events

    async def handle_webhook(self, body: str | bytes, authorization: str) -> MediaEvent | None:
        """Verify a LiveKit webhook (``verify_webhook``) and emit the join/leave it reports (None for
        other events, and for a join refused by ``may_join``: that participant is removed). A joined
        participant who may publish by its token but not by ``may_publish`` is downgraded to a
        listener first. A leave is ``voluntary`` when the client itself disconnected."""
        event = verify_webhook(self._key, self._secret, body, authorization)
        kinds = {"participant_joined": "joined", "participant_left": "left"}
        if event.event not in kinds or not event.room.name or not event.participant.identity:
            return None
        room_id, user_id = event.room.name, event.participant.identity
        if not self._first_and_in_order(event.id, (room_id, user_id), event.created_at):
            return None
        if event.event == "participant_joined":
            if self._may_join is not None and not await ask(self._may_join, room_id, user_id, what="may_join"):
                await self.kick(room_id, user_id)
                return None
            publishing = event.participant.permission.can_publish or event.participant.permission.can_publish_data
            if (publishing and self._may_publish is not None
                    and not await ask(self._may_publish, room_id, user_id, what="may_publish")):
                await self.set_publish(room_id, user_id, False)
        voluntary = event.event == "participant_left" and (
            event.participant.disconnect_reason == DisconnectReason.CLIENT_INITIATED)
        media_event = MediaEvent(kinds[event.event], room_id, user_id, voluntary=voluntary)  # type: ignore[arg-type]
        await self._hub.emit(media_event)
        return media_event

    def _first_and_in_order(self, event_id: str, who: tuple[str, str], created_at: int) -> bool:
        """Whether a webhook is new (its id not seen lately) and not older than the last event applied
        for the same participant; if so it is remembered as both. Synchronous: concurrent deliveries
        of one event cannot both pass."""
        clock = time.monotonic()
        while self._seen and (next(iter(self._seen.values())) < clock - SEEN_FOR_S
                              or len(self._seen) >= MAX_REMEMBERED):
            self._seen.popitem(last=False)
        if event_id and event_id in self._seen:
            return False
        if created_at < self._latest.get(who, created_at):
            return False
        if event_id:
            self._seen[event_id] = clock
        self._latest[who] = created_at
        self._latest.move_to_end(who)
        while len(self._latest) > MAX_REMEMBERED:
            self._latest.popitem(last=False)
        return True

    def subscribe(self) -> AsyncIterator[MediaEvent]:
        return self._hub.subscribe()

    def on_event(self, callback: Callable[[MediaEvent], Awaitable[None]]) -> None:
        self._hub.on_event(callback)
