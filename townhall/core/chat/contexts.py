"""A per-process cache of what sending a message checks: a channel, its type, its members.

Sending a message needs the channel, its type, the sender's membership and the ids of every
member (whom its notification goes to); loading them costs more than storing the message. They
change rarely, and every change of a channel or of its members records an event, so the cache
forgets a channel when it sees one: at once for the changes of this process (``observe`` is a
committed-unit listener, ``townhall.core.uow.COMMITTED``), a moment later for those of other
processes (the same events through the bus). Channel type changes record no event: the process
that makes one calls ``forget_all``. Whatever an event could not say (a lost bus message, another
process changing a channel type) is forgotten after ``ttl`` seconds, like the cached users of
the chat surface's authentication.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from townhall.core.accounts.events import UserDeleted
from townhall.core.chat.events import (
    ChannelEvent,
    MarkedUnread,
    MessageDeleted,
    MessageNew,
    MessageRead,
    MessageUndeleted,
    MessageUpdated,
    ReactionChanged,
)
from townhall.core.chat.models import Channel, ChannelType, Member
from townhall.core.chat.store import channel_context, get_member, member_ids
from townhall.core.events import Event
from townhall.db.database import Connection

# Events about messages and read state: they change nothing the cache holds.
_KEEPS = (MessageNew, MessageUpdated, MessageDeleted, MessageUndeleted, ReactionChanged, MessageRead, MarkedUnread)


@dataclass(slots=True)
class _Entry:
    channel: Channel
    ctype: ChannelType
    member_ids: list[int]
    expires: float
    members: dict[int, Member | None] = field(default_factory=dict)  # loaded per user on demand
    member_set: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        self.member_set = frozenset(self.member_ids)


class ChannelContexts:
    """Channels, their types and memberships, for sending messages (see the module docstring)."""

    def __init__(self, ttl: float = 1.0, max_channels: int = 10_000) -> None:
        self.ttl = ttl
        self.max_channels = max_channels
        self._entries: dict[str, _Entry] = {}
        self._generation = 0  # bumped by every forget: a load that raced one is not kept

    async def get(
        self, conn: Connection, cid: str, user_id: int | None
    ) -> tuple[Channel, ChannelType, Member | None, list[int]]:
        """The channel, its type, ``user_id``'s membership and the members' ids."""
        entry = self._entries.get(cid)
        if entry is None or entry.expires < time.monotonic():
            generation = self._generation
            channel, ctype, member = await channel_context(conn, cid, user_id)
            ids = await member_ids(conn, channel.pk)
            entry = _Entry(channel, ctype, ids, time.monotonic() + self.ttl)
            if user_id is not None:
                entry.members[user_id] = member
            if generation == self._generation:
                if len(self._entries) >= self.max_channels:
                    self._entries.clear()
                self._entries[cid] = entry
            return channel, ctype, member, ids
        if user_id is None:
            return entry.channel, entry.ctype, None, entry.member_ids
        if user_id not in entry.members:
            generation = self._generation
            member = await get_member(conn, entry.channel.pk, user_id) if user_id in entry.member_set else None
            if generation != self._generation:
                return entry.channel, entry.ctype, member, entry.member_ids
            entry.members[user_id] = member
        return entry.channel, entry.ctype, entry.members[user_id], entry.member_ids

    def observe(self, events: Iterable[Event] | None) -> None:
        """A committed unit's events (None: a unit whose changes are unknown did not commit)."""
        if events is None:
            self.forget_all()
            return
        for event in events:
            if isinstance(event, ChannelEvent) and not isinstance(event, _KEEPS):
                self.forget(event.channel.cid)
            elif isinstance(event, UserDeleted):  # their memberships went with them
                self.forget_all()

    async def on_event(self, event: Event) -> None:
        """Bus handler (``channel:*``, ``user:*``): changes made by other processes."""
        self.observe((event,))

    @staticmethod
    def wants(cls: type[Event], topic: str) -> bool:
        """The events ``observe`` acts on (the bus skips the others undecoded)."""
        return (issubclass(cls, ChannelEvent) and not issubclass(cls, _KEEPS)) or issubclass(cls, UserDeleted)

    def forget(self, cid: str) -> None:
        self._generation += 1
        self._entries.pop(cid, None)

    def forget_all(self) -> None:
        self._generation += 1
        self._entries.clear()
