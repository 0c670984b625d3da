"""A loopback stand-in for LiveKit's RoomService (no LiveKit server can be installed here).

It speaks the real wire protocol: Twirp over HTTP (``POST /twirp/livekit.RoomService/<Method>``) with
protobuf bodies (what ``livekit-api`` sends) or JSON ones, Twirp JSON errors, and the
``Authorization: Bearer <jwt>`` checked with livekit-api's own ``TokenVerifier`` (API key as issuer,
signature, expiry, and the ``roomAdmin``/``roomCreate`` grant the method needs). It records every
call and keeps rooms and participants so answers are consistent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message
from livekit import api

METHODS: dict[str, tuple[type[Message], str]] = {  # method -> (request class, grant it needs)
    "CreateRoom": (api.CreateRoomRequest, "room_create"),
    "DeleteRoom": (api.DeleteRoomRequest, "room_create"),
    "ListParticipants": (api.ListParticipantsRequest, "room_admin"),
    "UpdateParticipant": (api.UpdateParticipantRequest, "room_admin"),
    "RemoveParticipant": (api.RoomParticipantIdentity, "room_admin"),
}


@dataclass
class Call:
    method: str
    request: dict[str, Any]
    claims: api.access_token.Claims
    content_type: str


@dataclass
class RoomServiceStandIn:
    api_key: str
    api_secret: str
    calls: list[Call] = field(default_factory=list)
    rooms: dict[str, dict[str, api.ParticipantInfo]] = field(default_factory=dict)
    url: str = ""
    _runner: web.AppRunner | None = None

    def add_participant(self, room: str, identity: str, *, can_publish: bool) -> None:
        """A client connected to the room (as a real LiveKit would see it)."""
        info = api.ParticipantInfo(identity=identity, state=api.ParticipantInfo.ACTIVE)
        info.permission.CopyFrom(api.ParticipantPermission(can_subscribe=True, can_publish=can_publish))
        if can_publish:
            info.tracks.add(sid="TR_audio", muted=False)
        self.rooms.setdefault(room, {})[identity] = info

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/twirp/livekit.RoomService/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _error(status: int, code: str, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method not in METHODS:
            return self._error(404, "bad_route", f"no handler for {method}")
        request_class, grant = METHODS[method]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        try:
            claims = api.TokenVerifier(self.api_key, self.api_secret).verify(token)
        except Exception as exc:
            return self._error(401, "unauthenticated", f"invalid token: {exc}")
        if claims.video is None or not getattr(claims.video, grant):
            return self._error(403, "permission_denied", f"{method} needs the {grant} grant")
        content_type = request.headers.get("Content-Type", "")
        body = await request.read()
        message = request_class()
        try:
            if content_type.startswith("application/protobuf"):
                message.ParseFromString(body)
            else:
                json_format.Parse(body.decode() or "{}", message)
        except Exception as exc:
            return self._error(400, "malformed", str(exc))
        self.calls.append(Call(method, json_format.MessageToDict(message), claims, content_type))
        if method in ("ListParticipants", "UpdateParticipant", "RemoveParticipant") and (
            claims.video.room != getattr(message, "room", None)
        ):
            return self._error(403, "permission_denied", "token is for another room")
        try:
            answer = self._answer(method, message)
        except KeyError as exc:
            return self._error(404, "not_found", f"{exc.args[0]} not found")
        if content_type.startswith("application/protobuf"):
            return web.Response(body=answer.SerializeToString(), content_type="application/protobuf")
        return web.Response(text=json.dumps(json_format.MessageToDict(answer)), content_type="application/json")

    def _answer(self, method: str, message: Any) -> Message:
        if method == "CreateRoom":
            self.rooms.setdefault(message.name, {})
            return api.Room(name=message.name, sid=f"RM_{message.name}", empty_timeout=message.empty_timeout)
        if method == "DeleteRoom":
            if message.room not in self.rooms:
                raise KeyError("room")
            del self.rooms[message.room]
            return api.DeleteRoomResponse()
        room = self.rooms.get(message.room)
        if room is None:
            raise KeyError("room")
        if method == "ListParticipants":
            return api.ListParticipantsResponse(participants=list(room.values()))
        info = room.get(message.identity)
        if info is None:
            raise KeyError("participant")
        if method == "RemoveParticipant":
            del room[message.identity]
            return api.RemoveParticipantResponse()
        if message.HasField("permission"):
            info.permission.CopyFrom(message.permission)
        return info
