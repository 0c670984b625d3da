"""Expert calls' work with the media server (stub: the calls core fills it in).

Contract used by ``townhall.jobs.live``:
- ``CALL_ROOM_PREFIX``: media room names of calls start with it (``call-<id>``);
- ``access_checks(read)``: (may_join, may_publish) for call media rooms;
- ``media_event_handler(container)``: a ``MediaBackend.on_event`` callback driving call status;
- ``tick(container)``: the periodic job (dial timeouts, expiry at ``expires_at``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

CALL_ROOM_PREFIX = "call-"


def access_checks(read: Any) -> tuple[Callable[[str, str], Awaitable[bool]], Callable[[str, str], Awaitable[bool]]]:
    async def no(room_id: str, user_id: str) -> bool:
        return False

    return no, no


def media_event_handler(container: Any) -> Callable[[Any], Awaitable[None]]:
    async def handle(event: Any) -> None:
        return None

    return handle


async def tick(container: Any) -> None:
    return None
