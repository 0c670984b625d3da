"""The chat surface's WebSocket hub: the connections of this process, what each watches, and the
fan-out of domain events to them as Stream events.

Every process gets every event through the EventBus and delivers it to its own sockets; a watch
asked for in one process reaches the socket's process the same way (``watch_anywhere``).
Presence (``online``) spans processes: each hub announces its users going online and offline on
the bus and repeats the full list of its online users every ``PRESENCE_INTERVAL`` seconds; a
process not heard from for three intervals (it crashed) no longer counts. ``watcher_count``
counts the watchers of every process the same way, and ``remote_watcher_ids`` names the users
watching elsewhere, so a channel's ``watchers`` list names them all.

Each event is rendered and serialised once per variant (the watchers' event, the members'
``notification.*`` event) and the same frame goes to every recipient: under ``townhall serve`` the
frame's bytes are written straight to each socket that can take them now
(``realtime/wsframes.py``). A socket that cannot (its client reads slowly) gets its frames from its
own bounded send queue and task, so a slow socket never holds up the others; one that falls
``queue_size`` frames behind is closed (not with 1000, so the client reconnects and recovers).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from pydantic import Field

from townhall.api.chat import render
from townhall.core.accounts.events import UserDeleted, UserUpdated
from townhall.core.accounts.models import User
from townhall.core.chat.events import (
    ChannelClientEvent,
    ChannelDeleted,
    ChannelEvent,
    ChannelHidden,
    ChannelTruncated,
    ChannelUpdated,
    ChannelVisible,
    MarkedUnread,
    MemberChanged,
    MessageDeleted,
    MessageNew,
    MessageRead,
    MessageUndeleted,
    MessageUpdated,
    ReactionChanged,
    UserClientEvent,
)
from townhall.core.chat.models import Channel, Users
from townhall.core.chat.store import sees
from townhall.core.clock import iso, new_id, now
from townhall.core.events import Event, user_topic
from townhall.realtime.wsframes import DirectWriter, OutFrame

if TYPE_CHECKING:
    from townhall.container import Container
    from townhall.realtime.bus import Subscription

log = logging.getLogger(__name__)

SEND_QUEUE_SIZE = 1_000
CLOSE_PERMANENT = 1000  # the client gives up: bad credentials, user deleted or deactivated
CLOSE_GOING_AWAY = 1001  # server shutting down: the client reconnects (to another process)
CLOSE_TOO_SLOW = 1013  # "try again later": the client reconnects and re-queries its channels
# Above this many watchers a channel gets no user.watching.start/stop: each costs a frame per watcher,
# so N joining would cost N² frames (clients still get watcher_count on message.new).
WATCHING_EVENTS_MAX_WATCHERS = 100
FLUSH_TIMEOUT = 2.0  # seconds a closing connection may take to send what it has queued
PRESENCE_INTERVAL = 15.0  # seconds between a hub's announcements of its online users
PRESENCE_TOPIC = "presence:chat"

Payload = dict[str, Any]

# What watchers get, and what members who are not watching get instead, per member change.
_MEMBER_EVENTS: dict[str, tuple[str, str | None]] = {
    "added": ("member.added", "notification.added_to_channel"),
    "removed": ("member.removed", "notification.removed_from_channel"),
    "updated": ("member.updated", None),
    "invited": ("member.added", "notification.invited"),
    "invite_accepted": ("member.updated", "notification.invite_accepted"),
    "invite_rejected": ("member.updated", "notification.invite_rejected"),
}
# Member changes whose notification goes to every connection of the member concerned, watching or
# not: the JS client evicts a channel it was removed from on notification.removed_from_channel.
_TO_SUBJECT = frozenset({"added", "removed", "invited"})


class WatchRequest(Event):
    """Watch (or stop watching) on behalf of a socket that may live in another process: a REST
    call and its client's WebSocket can land on different workers. Sent on the user's topic."""

    type = "chat.ws.watch_request"
    connection_id: str
    cid: str
    user_id: int
    watch: bool = True
    announce: bool = True


class PresenceChanged(Event):
    """A user's first connection to a process opened, or its last one closed."""

    type = "chat.ws.presence"
    process_id: str
    user: User
    online: bool
    member_cids: list[str] = Field(default_factory=list)


class PresenceList(Event):
    """Everyone online on a process, and who watches what there (sent every PRESENCE_INTERVAL
    and when a hub starts/stops)."""

    type = "chat.ws.presence_list"
    process_id: str
    user_ids: list[int] = Field(default_factory=list)
    watching: dict[str, list[int]] = Field(default_factory=dict)


class WatchersChanged(Event):
    """The users watching a channel on one process changed."""

    type = "chat.ws.watchers"
    process_id: str
    cid: str
    user_ids: list[int] = Field(default_factory=list)


class Transport(Protocol):
    """What the hub needs of a socket (Starlette's WebSocket has it)."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


def health_check(connection_id: str, me: Payload | None = None) -> Payload:
    frame: Payload = {"type": "health.check", "connection_id": connection_id, "cid": "*"}
    if me is not None:
        frame["me"] = me
    frame["created_at"] = iso(now())
    return frame


def _channel_event(type_: str, c: Channel, at: datetime, /, **fields: Any) -> Payload:
    return {"type": type_, "cid": c.cid, "channel_id": c.id, "channel_type": c.type, **fields, "created_at": iso(at)}


def _frame(payload: Payload) -> OutFrame:
    return OutFrame(orjson.dumps(payload))


class Connection:
    """One client socket: its user, the channels it watches, and its own send queue and task.

    With a ``direct`` writer a frame is written at once while nothing is queued before it; the
    queue and its task take over while the socket cannot take more (and keep the order)."""

    def __init__(self, connection_id: str, user: User, transport: Transport, member_cids: Iterable[str],
                 queue_size: int, direct: DirectWriter | None = None) -> None:
        self.id = connection_id
        self.user = user
        # Channels the user is a member of (loaded at connect, kept up to date by member events):
        # who hears about this user's presence.
        self.member_cids = set(member_cids)
        self.watching: set[str] = set()
        self.closed = False  # nothing more is queued
        self._transport = transport
        self._direct = direct
        self._sending = False  # the task is handing a frame to the transport
        # A deque and a wake-up future rather than an asyncio.Queue: this is the per-watcher cost of
        # every event, and the queue's bookkeeping about doubles it. None: stop after the rest.
        self._frames: deque[OutFrame | None] = deque()
        self._limit = queue_size
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump(), name=f"chat-ws:{self.id}")

    def offer(self, frame: OutFrame) -> bool:
        """Send or queue ``frame`` without waiting; False when the client is too far behind."""
        if self.closed:
            return True
        direct = self._direct
        if direct is not None and not self._frames and not self._sending and direct.write(frame.wire):
            return True
        if len(self._frames) >= self._limit:
            return False
        self._push(frame)
        return True

    def _push(self, frame: OutFrame | None) -> None:
        self._frames.append(frame)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        frames = self._frames
        while True:
            while frames:
                frame = frames.popleft()
                if frame is None:
                    return
                self._sending = True
                try:
                    await self._transport.send_text(frame.text)
                except Exception as exc:  # the socket is gone; the gateway's receive loop ends too
                    log.debug("chat connection %s: send failed (%r)", self.id, exc)
                    self.closed = True
                    return
                finally:
                    self._sending = False
            self._wakeup = loop.create_future()
            await self._wakeup
            self._wakeup = None

    async def stop(self) -> None:
        """Stop sending at once (what is queued is dropped)."""
        self.closed = True
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def close(self, code: int, *, flush: float = 0.0) -> None:
        """Close the socket with ``code``, first sending what is queued for up to ``flush`` seconds."""
        self.closed = True
        task = self._task
        if flush > 0 and task is not None and not task.done():
            self._push(None)
            try:
                await asyncio.wait_for(asyncio.shield(task), flush)
            except TimeoutError:
                pass
        await self.stop()
        try:
            await self._transport.close(code)
        except Exception as exc:  # already closed
            log.debug("chat connection %s: close failed (%r)", self.id, exc)


class ChatHub:
    """Per-process registry of the chat surface's WebSocket connections."""

    def __init__(self, container: Container, *, queue_size: int = SEND_QUEUE_SIZE) -> None:
        self._bus = container.bus
        self._health_interval = container.settings.chat.ws_health_interval
        self._queue_size = queue_size
        self._conns: dict[str, Connection] = {}
        self._by_user: dict[int, dict[str, Connection]] = {}
        self._watchers: dict[str, dict[str, Connection]] = {}  # cid -> connections watching it
        self._watching_users: dict[str, dict[int, int]] = {}  # cid -> user id -> its connections there
        self._quiet: set[str] = set()  # watched channels whose type has no connect_events
        self._subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.process_id = new_id()
        self._remote: dict[str, tuple[set[int], float]] = {}  # process -> (its online users, last heard)
        self._remote_count: dict[int, int] = {}  # user -> how many other processes have them online
        self._remote_watchers: dict[str, dict[str, set[int]]] = {}  # cid -> process -> users watching
        self._outbox: asyncio.Queue[Event] = asyncio.Queue()  # announcements, published in order

    # -- lifecycle

    async def start(self) -> None:
        # Channel and user events matter only to a process with sockets (others skip them undecoded).
        self._subs = [self._bus.subscribe("channel:*", self._on_event, wants=self._has_sockets),
                      self._bus.subscribe("user:*", self._on_event, wants=self._has_sockets),
                      self._bus.subscribe(PRESENCE_TOPIC, self._on_presence)]
        self._spawn(self._heartbeat(), "chat-ws-heartbeat")
        self._spawn(self._presence_heartbeat(), "chat-ws-presence")
        self._spawn(self._announcer(), "chat-ws-announcer")

    async def close(self) -> None:
        for sub in self._subs:
            sub.close()
        self._subs = []
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Last word, after the announcer stopped: nobody is online or watching here any more.
        await self._announce(PresenceList(topic=PRESENCE_TOPIC, process_id=self.process_id))
        await asyncio.gather(*(c.close(CLOSE_GOING_AWAY) for c in list(self._conns.values())))

    def _has_sockets(self, cls: type[Event], topic: str) -> bool:
        return bool(self._conns)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- connections

    def connect(self, connection_id: str, user: User, transport: Transport, member_cids: Iterable[str],
                hello: Payload, direct: DirectWriter | None = None) -> Connection:
        """Register a socket. ``hello`` (the first health.check) is sent before anything else.
        ``direct``: the socket's ``DirectWriter``, when the server offers one."""
        conn = Connection(connection_id, user, transport, member_cids, self._queue_size, direct)
        conn.offer(_frame(hello))
        was_online = self.is_online(user.id)
        first = user.id not in self._by_user
        self._conns[connection_id] = conn
        self._by_user.setdefault(user.id, {})[connection_id] = conn
        conn.start()
        if first:
            self._outbox.put_nowait(PresenceChanged(
                topic=PRESENCE_TOPIC, process_id=self.process_id, user=user, online=True,
                member_cids=sorted(conn.member_cids)))
            if not was_online:
                self._presence_changed(user, conn.member_cids)
        return conn

    async def disconnect(self, connection_id: str) -> None:
        """Unregister a socket (idempotent): it stops watching; its user may go offline."""
        conn = self._conns.pop(connection_id, None)
        if conn is None:
            return
        cids = conn.member_cids | conn.watching
        for cid in list(conn.watching):
            self._unwatch(conn, cid)
        mine = self._by_user.get(conn.user.id, {})
        mine.pop(connection_id, None)
        if not mine:
            self._by_user.pop(conn.user.id, None)
            self._outbox.put_nowait(PresenceChanged(topic=PRESENCE_TOPIC, process_id=self.process_id,
                                                    user=conn.user, online=False, member_cids=sorted(cids)))
            if not self.is_online(conn.user.id):
                self._presence_changed(conn.user, cids)
        await conn.stop()

    def connection(self, connection_id: str) -> Connection | None:
        return self._conns.get(connection_id)

    def send(self, connection_id: str, payload: Payload) -> bool:
        """Queue one event for one connection; False if it is not on this process."""
        conn = self._conns.get(connection_id)
        if conn is None:
            return False
        self._fan_out(payload, (conn,))
        return True

    def is_online(self, user_id: int) -> bool:
        """Connected to this process or, as far as the bus has told us, to another one."""
        return user_id in self._by_user or user_id in self._remote_count

    # -- watching

    def watch(self, connection_id: str, cid: str, user_id: int | None = None, *, announce: bool = True) -> bool:
        """Deliver ``cid``'s events to the connection. False if it is not on this process (or is
        not ``user_id``'s). ``announce``: send user.watching.start/stop (the channel type's
        ``connect_events``)."""
        conn = self._conns.get(connection_id)
        if conn is None or (user_id is not None and conn.user.id != user_id):
            return False
        if cid in conn.watching:
            return True
        conn.watching.add(cid)
        if not announce:
            self._quiet.add(cid)
        self._watchers.setdefault(cid, {})[conn.id] = conn
        users = self._watching_users.setdefault(cid, {})
        users[conn.user.id] = users.get(conn.user.id, 0) + 1
        if users[conn.user.id] == 1:
            self._local_watchers_changed(cid)
            self._watching_changed("user.watching.start", conn.user, cid)
        return True

    def unwatch(self, connection_id: str, cid: str) -> None:
        conn = self._conns.get(connection_id)
        if conn is not None and cid in conn.watching:
            self._unwatch(conn, cid)

    async def watch_anywhere(self, connection_id: str, cid: str, user_id: int, *, watch: bool = True,
                             announce: bool = True) -> None:
        """``watch``/``unwatch`` here if the socket is here, else through the bus to its process."""
        conn = self._conns.get(connection_id)
        if conn is not None:
            if watch:
                self.watch(connection_id, cid, user_id, announce=announce)
            elif conn.user.id == user_id:
                self.unwatch(connection_id, cid)
            return
        await self._bus.publish(WatchRequest(topic=user_topic(user_id), connection_id=connection_id, cid=cid,
                                             user_id=user_id, watch=watch, announce=announce))

    def _unwatch(self, conn: Connection, cid: str, *, quiet: bool = False) -> None:
        conn.watching.discard(cid)
        watchers = self._watchers.get(cid, {})
        watchers.pop(conn.id, None)
        if not watchers:
            self._watchers.pop(cid, None)
        users = self._watching_users.get(cid, {})
        left = users.get(conn.user.id, 1) - 1
        if left > 0:
            users[conn.user.id] = left
            return
        users.pop(conn.user.id, None)
        if not users:
            self._watching_users.pop(cid, None)
            self._quiet.discard(cid)
        self._local_watchers_changed(cid)
        if not quiet:
            self._watching_changed("user.watching.stop", conn.user, cid)

    def watcher_ids(self, cid: str) -> list[int]:
        """Distinct users watching ``cid`` on this process."""
        return list(self._watching_users.get(cid, ()))

    def watcher_users(self, cid: str) -> list[User]:
        seen: dict[int, User] = {}
        for conn in self._watchers.get(cid, {}).values():
            seen.setdefault(conn.user.id, conn.user)
        return list(seen.values())

    def remote_watcher_ids(self, cid: str) -> list[int]:
        """Users watching ``cid`` on other processes only (``watcher_users`` has this process's)."""
        elsewhere = self._remote_watchers.get(cid)
        if not elsewhere:
            return []
        return sorted(set().union(*elsewhere.values()) - set(self._watching_users.get(cid, {})))

    def watcher_count(self, cid: str) -> int:
        """Distinct users watching ``cid`` on any process."""
        here = self._watching_users.get(cid, {})
        elsewhere = self._remote_watchers.get(cid)
        if not elsewhere:
            return len(here)
        return len(set(here).union(*elsewhere.values()))

    def _local_watchers_changed(self, cid: str) -> None:
        self._outbox.put_nowait(WatchersChanged(topic=PRESENCE_TOPIC, process_id=self.process_id, cid=cid,
                                                user_ids=sorted(self._watching_users.get(cid, {}))))

    def _watching_changed(self, type_: str, user: User, cid: str) -> None:
        if cid in self._quiet or self.watcher_count(cid) > WATCHING_EVENTS_MAX_WATCHERS:
            return
        channel_type, _, channel_id = cid.partition(":")
        self._fan_out({"type": type_, "cid": cid, "channel_id": channel_id, "channel_type": channel_type,
                       "user": render.user(user, self.is_online), "watcher_count": self.watcher_count(cid),
                       "created_at": iso(now())}, self._watching(cid))

    # -- audiences

    def _watching(self, cid: str) -> Iterable[Connection]:
        return self._watchers.get(cid, {}).values()

    def _of_users(self, user_ids: Iterable[int], *, unless_watching: str | None = None) -> Iterator[Connection]:
        for user_id in user_ids:
            for conn in self._by_user.get(user_id, {}).values():
                if unless_watching is None or unless_watching not in conn.watching:
                    yield conn

    def _interested_in(self, user_id: int, cids: Iterable[str]) -> Iterator[Connection]:
        """Connections watching one of ``cids`` (the user's channels), the user's own excluded."""
        seen: set[str] = set()
        for cid in cids:
            for conn in self._watching(cid):
                if conn.id not in seen and conn.user.id != user_id:
                    seen.add(conn.id)
                    yield conn

    def _channels_of(self, user_id: int) -> set[str]:
        cids: set[str] = set()
        for conn in self._by_user.get(user_id, {}).values():
            cids |= conn.member_cids | conn.watching
        return cids

    def _local_user(self, users: Users, user_id: int | None) -> User | None:
        """A user from the event's snapshot, else as a local connection knows them."""
        found = users.get(user_id)
        if found is None and user_id is not None:
            conn = next(iter(self._by_user.get(user_id, {}).values()), None)
            found = conn.user if conn is not None else None
        return found

    # -- delivery

    def _fan_out(self, payload: Payload, conns: Iterable[Connection]) -> None:
        frame: OutFrame | None = None
        for conn in conns:
            if frame is None:
                frame = _frame(payload)
            if not conn.offer(frame):
                self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        log.warning("chat connection %s of user %s is too slow (%d frames queued): closing it",
                    conn.id, conn.user.chat_id, self._queue_size)
        self._close(conn, CLOSE_TOO_SLOW)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._health_interval)
            for conn in list(self._conns.values()):
                if not conn.offer(_frame(health_check(conn.id))):
                    self._drop(conn)

    def _presence_changed(self, user: User, cids: Iterable[str]) -> None:
        if user.invisible:
            return
        self._fan_out({"type": "user.presence.changed", "user": render.user(user, self.is_online),
                       "created_at": iso(now())}, self._interested_in(user.id, cids))

    # -- presence across processes

    async def _announce(self, event: Event) -> None:
        try:
            await self._bus.publish(event)
        except Exception:  # presence is best effort; the next list repairs it
            log.warning("could not announce chat presence", exc_info=True)

    async def _announcer(self) -> None:
        while True:
            await self._announce(await self._outbox.get())

    async def _presence_heartbeat(self) -> None:
        while True:
            self._outbox.put_nowait(PresenceList(
                topic=PRESENCE_TOPIC, process_id=self.process_id, user_ids=sorted(self._by_user),
                watching={cid: sorted(users) for cid, users in self._watching_users.items()}))
            await asyncio.sleep(PRESENCE_INTERVAL)
            self._expire_remote()

    def _expire_remote(self) -> None:
        """Forget processes not heard from for three intervals (they crashed or were killed)."""
        deadline = asyncio.get_running_loop().time() - 3 * PRESENCE_INTERVAL
        for process_id, (_, heard) in list(self._remote.items()):
            if heard < deadline:
                self._set_remote(process_id, set())
                self._set_remote_watching(process_id, {})
                del self._remote[process_id]

    def _set_remote(self, process_id: str, users: set[int]) -> tuple[set[int], set[int]]:
        """Replace what a process has online; returns (users who came, users who left) there."""
        before, _ = self._remote.get(process_id, (set(), 0.0))
        came, left = users - before, before - users
        for user_id in came:
            self._remote_count[user_id] = self._remote_count.get(user_id, 0) + 1
        for user_id in left:
            remaining = self._remote_count.get(user_id, 1) - 1
            if remaining > 0:
                self._remote_count[user_id] = remaining
            else:
                self._remote_count.pop(user_id, None)
        self._remote[process_id] = (users, asyncio.get_running_loop().time())
        return came, left

    def _set_remote_watchers(self, cid: str, process_id: str, user_ids: list[int]) -> None:
        by_process = self._remote_watchers.setdefault(cid, {})
        if user_ids:
            by_process[process_id] = set(user_ids)
        else:
            by_process.pop(process_id, None)
        if not by_process:
            del self._remote_watchers[cid]

    def _set_remote_watching(self, process_id: str, watching: dict[str, list[int]]) -> None:
        """Replace everything a process watches (its periodic list, or nothing when it is gone)."""
        for cid in [c for c, by_process in self._remote_watchers.items() if process_id in by_process]:
            if cid not in watching:
                self._set_remote_watchers(cid, process_id, [])
        for cid, user_ids in watching.items():
            self._set_remote_watchers(cid, process_id, user_ids)

    async def _on_presence(self, event: Event) -> None:
        if isinstance(event, PresenceList) and event.process_id != self.process_id:
            self._set_remote(event.process_id, set(event.user_ids))
            self._set_remote_watching(event.process_id, event.watching)
        elif isinstance(event, WatchersChanged) and event.process_id != self.process_id:
            self._set_remote_watchers(event.cid, event.process_id, event.user_ids)
        elif isinstance(event, PresenceChanged) and event.process_id != self.process_id:
            users, _ = self._remote.get(event.process_id, (set(), 0.0))
            was_online = self.is_online(event.user.id)
            self._set_remote(event.process_id, users | {event.user.id} if event.online else users - {event.user.id})
            if was_online != self.is_online(event.user.id):
                self._presence_changed(event.user, event.member_cids)

    # -- events from the bus

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, ChannelEvent):
            self._on_channel_event(event)
        elif isinstance(event, ChannelClientEvent):
            actor = render.user(self._local_user(event.users, event.actor_id), self.is_online)
            self._fan_out({**event.payload, **_channel_event(event.event_type, event.channel, event.created_at,
                                                             user=actor)},
                          self._watching(event.channel.cid))
        elif isinstance(event, UserClientEvent):
            self._fan_out({**event.payload, "type": event.event_type, "created_at": iso(event.created_at)},
                          self._of_users([event.user.id]))
        elif isinstance(event, (UserUpdated, UserDeleted)):
            self._on_user_event(event)
        elif isinstance(event, WatchRequest) and event.connection_id in self._conns:
            await self.watch_anywhere(event.connection_id, event.cid, event.user_id, watch=event.watch,
                                      announce=event.announce)

    def _on_user_event(self, event: UserUpdated | UserDeleted) -> None:
        user = event.user
        own = list(self._of_users([user.id]))
        for conn in own:
            conn.user = user
        payload: Payload = {"type": event.type, "user": render.user(user, self.is_online)}
        if isinstance(event, UserDeleted):
            payload["hard_delete"] = event.hard
        payload["created_at"] = iso(event.created_at)
        self._fan_out(payload, [*own, *self._interested_in(user.id, self._channels_of(user.id))])
        if isinstance(event, UserDeleted) or not user.is_active:
            for conn in own:
                self._close(conn, CLOSE_PERMANENT, flush=FLUSH_TIMEOUT)

    def _close(self, conn: Connection, code: int, *, flush: float = 0.0) -> None:
        """Close a connection from the hub's side and forget it."""
        if conn.closed:
            return  # already closing, or its socket failed (its gateway is unregistering it)
        conn.closed = True

        async def close_and_forget() -> None:
            await conn.close(code, flush=flush)
            await self.disconnect(conn.id)

        self._spawn(close_and_forget(), f"chat-ws-close:{conn.id}")

    def _on_channel_event(self, ev: ChannelEvent) -> None:
        cid = ev.channel.cid
        if cid not in self._watchers and not any(u in self._by_user for u in ev.member_ids):
            return  # nobody on this process cares
        online = self.is_online
        users = ev.users
        actor = render.user(self._local_user(users, ev.actor_id), online)
        match ev:
            case MessageNew():
                message = render.message(ev.view, users, online)
                count = self.watcher_count(cid)
                self._to_watchers(ev, "message.new", user=message["user"], message=message, watcher_count=count)
                if ev.view.message.parent_id is None or ev.view.message.show_in_channel:
                    self._to_members(ev, "notification.message_new", channel=self._channel(ev),
                                     user=message["user"], message=message, watcher_count=count)
            case MessageUpdated():
                self._to_watchers(ev, "message.updated", user=actor, message=render.message(ev.view, users, online))
            case MessageUndeleted():
                self._to_watchers(ev, "message.undeleted", user=actor,
                                  message=render.message(ev.view, users, online))
            case MessageDeleted():
                self._to_watchers(ev, "message.deleted", user=actor, message=render.message(ev.view, users, online),
                                  hard_delete=ev.hard)
            case ReactionChanged():
                self._to_watchers(ev, f"reaction.{ev.kind}", user=actor,
                                  message=render.message(ev.view, users, online),
                                  reaction=render.reaction(ev.reaction, users, online))
            case ChannelUpdated():
                self._to_watchers(ev, "channel.updated", user=actor, channel=self._channel(ev))
            case ChannelTruncated():
                self._to_watchers(ev, "channel.truncated", user=actor, channel=self._channel(ev))
                self._to_members(ev, "notification.channel_truncated", user=actor, channel=self._channel(ev))
            case ChannelDeleted():
                self._to_watchers(ev, "channel.deleted", user=actor, channel=self._channel(ev))
                self._to_members(ev, "notification.channel_deleted", user=actor, channel=self._channel(ev))
                self._forget_channel(cid)
            case ChannelHidden():
                self._to_members(ev, "channel.hidden", watching_too=True, user=actor, channel=self._channel(ev),
                                 clear_history=ev.clear_history)
            case ChannelVisible():
                self._to_members(ev, "channel.visible", watching_too=True, user=actor, channel=self._channel(ev))
            case MemberChanged():
                self._on_member_changed(ev)
            case MessageRead():
                self._to_watchers(ev, "message.read", user=actor, last_read_message_id=ev.last_read_message_id)
                self._to_members(ev, "notification.mark_read", user=actor, channel=self._channel(ev),
                                 last_read_message_id=ev.last_read_message_id, unread_messages=0)
            case MarkedUnread():
                m = ev.member
                self._to_members(ev, "notification.mark_unread", watching_too=True,
                                 user=render.user(self._local_user(users, m.user_id), online),
                                 unread_messages=m.unread_messages, last_read_at=iso(m.last_read),
                                 last_read_message_id=m.last_read_message_id,
                                 first_unread_message_id=ev.first_unread_message_id)

    def _to_watchers(self, ev: ChannelEvent, type_: str, /, **fields: Any) -> None:
        conns = self._seeing(ev, self._watching(ev.channel.cid))
        self._fan_out(_channel_event(type_, ev.channel, ev.created_at, **fields), conns)

    def _to_members(self, ev: ChannelEvent, type_: str, /, *, watching_too: bool = False, **fields: Any) -> None:
        """To the connections of ``ev.member_ids``; by default only those not watching the channel."""
        conns = self._of_users(ev.member_ids, unless_watching=None if watching_too else ev.channel.cid)
        self._fan_out(_channel_event(type_, ev.channel, ev.created_at, **fields), self._seeing(ev, conns))

    @staticmethod
    def _seeing(ev: ChannelEvent, conns: Iterable[Connection]) -> Iterable[Connection]:
        """The connections whose user sees the event's message (restricted visibility)."""
        view = getattr(ev, "view", None)
        if view is None or view.message.restricted_visibility is None:
            return conns
        return (c for c in conns if sees(view.message, c.user.id))

    def _channel(self, ev: ChannelEvent) -> Payload:
        return render.channel(ev.channel, None, ev.users, self.is_online)

    def _on_member_changed(self, ev: MemberChanged) -> None:
        users = ev.users
        subject = self._local_user(users, ev.member.user_id)
        if subject is not None and subject.id not in users.by_id:
            users = Users(by_id={**users.by_id, subject.id: subject})
        member = render.member(ev.member, users, self.is_online)
        user = render.user(subject, self.is_online)
        watchers_type, notification_type = _MEMBER_EVENTS.get(ev.kind, ("member.updated", None))
        self._to_watchers(ev, watchers_type, user=user, member=member)
        if notification_type is not None:
            self._to_members(ev, notification_type, watching_too=ev.kind in _TO_SUBJECT, user=user,
                             member=member, channel=self._channel(ev))
        cid = ev.channel.cid
        for conn in list(self._of_users([ev.member.user_id])):
            if ev.kind == "removed":
                conn.member_cids.discard(cid)
                if cid in conn.watching:
                    self._unwatch(conn, cid)
            elif ev.kind in ("added", "invited"):
                conn.member_cids.add(cid)

    def _forget_channel(self, cid: str) -> None:
        for conn in list(self._watching(cid)):
            self._unwatch(conn, cid, quiet=True)
        for conn in self._conns.values():
            conn.member_cids.discard(cid)
