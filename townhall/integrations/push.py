"""Push notifications to a member's devices: ``PushSender.send(message)``; backend ``log``.

``log`` (the only backend so far, the development default) delivers nothing: it writes each
message to the log at INFO and keeps the last ``keep`` in ``sent`` (tests, demos). A real backend
(FCM, APNs) raises ``PushError`` when the message was not accepted, so the caller retries it later.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class PushError(Exception):
    """The message could not be handed to the push provider (the caller retries it later)."""


@dataclass(frozen=True, slots=True)
class PushMessage:
    user_id: int
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


class PushSender(Protocol):
    name: str

    async def send(self, message: PushMessage) -> None: ...

    async def close(self) -> None: ...


class LogPush:
    """Development delivery: the message goes to the log (and to ``sent``), nowhere else."""

    name = "log"

    def __init__(self, keep: int = 1000) -> None:
        self.sent: deque[PushMessage] = deque(maxlen=keep)

    async def send(self, message: PushMessage) -> None:
        log.info("development push backend (log, nothing is delivered): push to user %s: %s",
                 message.user_id, message.title, extra={"push_user_id": message.user_id, "push_data": message.data})
        self.sent.append(message)

    async def close(self) -> None:
        return None
