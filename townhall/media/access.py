"""Who may be in, and be heard in, a media room: the question asked of the domain that owns the room.

One media server carries the rooms of several domains: live audio rooms (the rooms core: Clubhouse
rooms and community voice chats, named by their room code) and expert calls (the calls core, named
``call-<id>``). ``MediaBackend.set_access`` takes one pair of checks; ``AccessRouter`` composes the
domains' pairs, each for the media room names that start with its prefix (the longest prefix wins;
the empty prefix is the default). A room no domain claims is refused (fail closed).
"""

from __future__ import annotations

from townhall.media.base import AccessCheck, ask


class AccessRouter:
    def __init__(self) -> None:
        self._routes: dict[str, tuple[AccessCheck, AccessCheck]] = {}

    def route(self, prefix: str, *, may_join: AccessCheck, may_publish: AccessCheck) -> None:
        """Media rooms whose name starts with ``prefix`` are asked of these checks."""
        self._routes[prefix] = (may_join, may_publish)

    def _owner(self, room_id: str) -> tuple[AccessCheck, AccessCheck] | None:
        for prefix in sorted(self._routes, key=len, reverse=True):
            if room_id.startswith(prefix):
                return self._routes[prefix]
        return None

    def checks(self) -> tuple[AccessCheck, AccessCheck]:
        """The composed pair to give ``MediaBackend.set_access``."""

        async def may_join(room_id: str, user_id: str) -> bool:
            owner = self._owner(room_id)
            return owner is not None and await ask(owner[0], room_id, user_id, what="may_join")

        async def may_publish(room_id: str, user_id: str) -> bool:
            owner = self._owner(room_id)
            return owner is not None and await ask(owner[1], room_id, user_id, what="may_publish")

        return may_join, may_publish
