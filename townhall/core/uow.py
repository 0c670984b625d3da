"""The unit of work: one database transaction plus the events it will publish after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from townhall.db.database import Connection

if TYPE_CHECKING:
    from townhall.core.events import Event


@dataclass(slots=True)
class UnitOfWork:
    conn: Connection
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        self.events.append(event)
