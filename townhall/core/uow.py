"""The unit of work: one database transaction plus the events it will publish after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from townhall.db.database import Connection

if TYPE_CHECKING:
    from townhall.core.events import Event

# ``container.extras[COMMITTED]``: callables that ``container.uow()`` hands each committed unit's
# events, synchronously, before they go to the bus (None when units whose changes are unknown
# did not commit). For in-process caches, which must forget a change before the next request.
COMMITTED = "uow.committed"


@dataclass(slots=True)
class UnitOfWork:
    conn: Connection
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        self.events.append(event)
