"""Opaque ``next``/``previous`` cursors shared by every paginated query.

A cursor carries the offset of the page it points at and the sort the first page asked for, so a
client may send only ``next`` for the following pages.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import orjson

from townhall.core.errors import Invalid


@dataclass(frozen=True, slots=True)
class Cursor:
    offset: int
    sort: list[tuple[str, int]] = field(default_factory=list)

    def encode(self) -> str:
        raw = orjson.dumps({"o": self.offset, "s": [list(s) for s in self.sort]})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            offset = int(raw["o"])
            sort = [(str(name), int(direction)) for name, direction in raw.get("s", [])]
        except Exception as exc:  # anything malformed is the client's error
            raise Invalid("invalid_cursor", "next/prev is not a cursor this server issued") from exc
        if offset < 0 or any(d not in (1, -1) for _, d in sort):
            raise Invalid("invalid_cursor", "next/prev is not a cursor this server issued")
        return cls(offset, sort)
