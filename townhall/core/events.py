"""Typed domain events and their audience.

Every event names ONE topic (``user:<id>``, ``channel:<cid>``, ``room:<id>``, ``community:<id>``);
gateways subscribe to topics or topic prefixes. Events are recorded on the unit of work and leave
only after its commit (``townhall.uow``). Each event class registers itself by its ``type`` so a
bus that crosses processes can rebuild it from JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from townhall.core.clock import now

_REGISTRY: dict[str, type[Event]] = {}


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ClassVar[str] = ""
    topic: str
    created_at: datetime = Field(default_factory=now)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:
            _REGISTRY[cls.type] = cls

    def to_json(self) -> bytes:
        return orjson.dumps({"type": self.type, "data": self.model_dump(mode="json")})

    @staticmethod
    def class_of(type_: str) -> type[Event] | None:
        """The event class registered for ``type_`` (None if this version has none)."""
        return _REGISTRY.get(type_)

    @staticmethod
    def from_json(raw: bytes | str) -> Event:
        obj = orjson.loads(raw)
        cls = _REGISTRY[obj["type"]]
        return cls.model_validate(obj["data"])


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def channel_topic(cid: str) -> str:
    return f"channel:{cid}"
