"""Call events, each on the user topic (``user:<id>``) of the party it is for.

``CallRequested`` (a new pending call for you) and ``CallDialed`` (your call is ringing: join the
media room with ``connection_url``) must not be lost: they also become push notifications, written
to ``call_notifications`` in the transaction that caused them (the outbox writer below). The push
never carries the connection URL (a push crosses third parties): the app asks ``GET /calls/{id}``.
"""

from __future__ import annotations

from townhall.core.calls import notifications
from townhall.core.events import Event
from townhall.core.uow import UnitOfWork
from townhall.jobs import outbox


class CallEvent(Event):
    call_id: int
    status: str
    seeker_id: int
    expert_id: int
    user_id: int  # whom this copy is for (the topic's user)


class CallStatusChanged(CallEvent):
    """The call moved on (sent to both parties)."""

    type = "call.status"


class CallRequested(CallEvent):
    """A new pending call: to the expert when a seeker requested it, to the seeker when an expert
    offered it by fulfilling their need."""

    type = "call.requested"
    reason: str


class CallDialed(CallEvent):
    """The party is being dialled: joining ``room`` with ``connection_url`` answers the call."""

    type = "call.dial"
    role: str  # seeker | expert
    room: str
    connection_url: str


async def write_notifications(uow: UnitOfWork, event: Event) -> int:
    """The push notification of a request or a dial, in the unit's transaction."""
    if isinstance(event, CallDialed):
        title, body = "Incoming call", "Your call is ready: join now."
    elif isinstance(event, CallRequested):
        title, body = "New call request", event.reason
    else:
        return 0
    return await notifications.enqueue(uow, event.user_id, event.call_id, event.type, {
        "title": title, "body": body, "call_id": event.call_id, "status": event.status})


outbox.register(CallDialed, write_notifications)
outbox.register(CallRequested, write_notifications)
