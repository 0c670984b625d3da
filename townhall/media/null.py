"""The ``null`` media backend: room state only, no audio (the development default).

It remembers rooms, publish rights and who was let in, so the rooms core behaves the same as with a
real server; ``simulate_join``/``simulate_leave`` stand in for clients connecting (tests, demos).

Nothing here is needed by another process: with ``serve --workers N`` a room is created in one worker
and used in another, so every operation takes a room it never saw as an empty one (created on first
use) instead of raising MediaRoomNotFound; the rooms core, which owns room state, decides what exists.
Only a room this process destroyed (and did not create again) is MediaRoomNotFound here.
Publish rights: ``simulate_join`` asks the ``may_publish`` check given to ``set_access`` (by default,
what this process was told through ``credentials``/``set_publish``) and lets in only who ``may_join``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlencode

from townhall.media.base import (
    AccessCheck,
    EventHub,
    JoinCredentials,
    MediaEvent,
    MediaParticipant,
    MediaRoom,
    MediaRoomNotFound,
    ask,
)

REMEMBER_ENDED = 10_000  # rooms destroyed here that stay MediaRoomNotFound (the oldest are forgotten)


class NullMediaBackend:
    name = "null"

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, MediaParticipant]] = {}  # room -> user -> participant
        self._publish: dict[str, set[str]] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._may_join: AccessCheck | None = None
        self._may_publish: AccessCheck | None = None
        self._hub = EventHub()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._hub.close()

    def set_access(self, *, may_join: AccessCheck | None = None, may_publish: AccessCheck | None = None) -> None:
        self._may_join, self._may_publish = may_join, may_publish

    async def create_room(self, room_id: str) -> MediaRoom:
        self._ended.pop(room_id, None)
        self._room(room_id)
        return MediaRoom(room_id=room_id, backend=self.name, media_room=room_id)

    async def watch(self, room_id: str) -> None:
        self._room(room_id)

    async def destroy_room(self, room_id: str) -> None:
        present = self._rooms.pop(room_id, {})
        self._publish.pop(room_id, None)
        self._ended[room_id] = None
        while len(self._ended) > REMEMBER_ENDED:
            self._ended.popitem(last=False)
        for user_id in present:
            await self._hub.emit(MediaEvent("left", room_id, user_id))

    def _room(self, room_id: str) -> dict[str, MediaParticipant]:
        """The room, created on first use (it may have been created by another process)."""
        if room_id in self._ended:
            raise MediaRoomNotFound(f"media room {room_id!r} was destroyed")
        self._publish.setdefault(room_id, set())
        return self._rooms.setdefault(room_id, {})

    async def credentials(self, room_id: str, user_id: str, *, can_publish: bool,
                          allow_stream: bool = True) -> JoinCredentials:
        await self.set_publish(room_id, user_id, can_publish)
        query = urlencode({"room": room_id, "user": user_id, "publish": str(can_publish).lower()})
        return JoinCredentials(
            backend=self.name, server_url="", room_id=room_id, media_room=room_id, user_id=user_id,
            can_publish=can_publish, connection_url=f"null:?{query}", participant_id=user_id,
        )

    async def set_publish(self, room_id: str, user_id: str, allowed: bool) -> None:
        room = self._room(room_id)
        (self._publish[room_id].add if allowed else self._publish[room_id].discard)(user_id)
        if user_id in room:
            room[user_id] = MediaParticipant(user_id, muted=not allowed)

    async def kick(self, room_id: str, user_id: str) -> None:
        room = self._room(room_id)
        self._publish[room_id].discard(user_id)
        if room.pop(user_id, None) is not None:
            await self._hub.emit(MediaEvent("left", room_id, user_id))

    async def participants(self, room_id: str) -> list[MediaParticipant]:
        if room_id in self._ended:
            raise MediaRoomNotFound(f"media room {room_id!r} was destroyed")
        return sorted(self._rooms.get(room_id, {}).values(), key=lambda p: p.user_id)

    def subscribe(self) -> AsyncIterator[MediaEvent]:
        return self._hub.subscribe()

    def on_event(self, callback: Callable[[MediaEvent], Awaitable[None]]) -> None:
        self._hub.on_event(callback)

    # -- stand-ins for clients connecting

    async def simulate_join(self, room_id: str, user_id: str) -> bool:
        """A client connecting: refused (False) when ``may_join`` says no; heard only if allowed."""
        room = self._room(room_id)
        if self._may_join is not None and not await ask(self._may_join, room_id, user_id, what="may_join"):
            return False
        if self._may_publish is not None:
            allowed = await ask(self._may_publish, room_id, user_id, what="may_publish")
        else:
            allowed = user_id in self._publish[room_id]
        room[user_id] = MediaParticipant(user_id, muted=not allowed)
        await self._hub.emit(MediaEvent("joined", room_id, user_id))
        return True

    async def simulate_leave(self, room_id: str, user_id: str, *, voluntary: bool = False) -> None:
        """A client leaving: on purpose (``voluntary``) or dropping out."""
        if self._rooms.get(room_id, {}).pop(user_id, None) is not None:
            await self._hub.emit(MediaEvent("left", room_id, user_id, voluntary=voluntary))
