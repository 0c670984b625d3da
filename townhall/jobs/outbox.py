"""The outbox write of every unit of work (DESIGN rule 5).

A domain registers, per event type, a writer that puts the event's outbox rows (webhooks...) in the
unit's transaction. ``Container.uow()`` calls :func:`write_events` just before it commits, on the
same connection, so an event that must not be lost reaches the outbox whatever emitted it: an HTTP
request of any surface, the CLI, the demo data, a job. A unit that rolls back writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from townhall.core.events import Event
    from townhall.core.uow import UnitOfWork

Writer = Callable[["UnitOfWork", "Event"], Awaitable[int]]

_WRITERS: dict[type, Writer] = {}


def register(event_type: type[Event], writer: Writer) -> None:
    """``writer(uow, event)`` writes the outbox rows of ``event_type`` events (and of its subclasses)
    and answers how many it wrote."""
    _WRITERS[event_type] = writer


def writer_for(event: Event) -> Writer | None:
    for cls in type(event).__mro__:
        found = _WRITERS.get(cls)
        if found is not None:
            return found
    return None


async def write_events(uow: UnitOfWork) -> int:
    """The unit's events, in the outbox, in the unit's transaction: the number of rows written."""
    written = 0
    for event in uow.events:
        writer = writer_for(event)
        if writer is not None:
            written += await writer(uow, event)
    return written
