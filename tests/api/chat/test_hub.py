"""ChatHub: registry, watching, presence and the fan-out of domain events as Stream events.

Driven through a real in-memory EventBus with fake sockets; no database, no HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from townhall.api.chat.hub import CLOSE_GOING_AWAY, CLOSE_PERMANENT, CLOSE_TOO_SLOW, ChatHub, health_check
from townhall.config import ChatSettings, Settings
from townhall.container import Container
from townhall.core.accounts.events import UserDeleted, UserUpdated
from townhall.core.accounts.models import User
from townhall.core.chat.events import (
    ChannelClientEvent,
    ChannelDeleted,
    ChannelHidden,
    MarkedUnread,
    MemberChanged,
    MessageDeleted,
    MessageNew,
    MessageRead,
    MessageUpdated,
    ReactionChanged,
    UserClientEvent,
)
from townhall.core.chat.models import Channel, Member, Message, MessageView, Reaction, Users
from townhall.core.events import Event, channel_topic, user_topic
from townhall.realtime.bus import MemoryEventBus

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CID = "messaging:general"

ALICE = User(id=1, chat_id="alice", name="Alice", created_at=T0, updated_at=T0)
BOB = User(id=2, chat_id="bob", created_at=T0, updated_at=T0)
CAROL = User(id=3, chat_id="carol", created_at=T0, updated_at=T0)


class FakeSocket:
    """A transport that records frames; ``blocked`` makes sends hang (a slow client)."""

    def __init__(self, *, blocked: bool = False) -> None:
        self.raw: list[str] = []
        self.closed_with: int | None = None
        self._unblocked = asyncio.Event()
        if not blocked:
            self._unblocked.set()

    async def send_text(self, data: str) -> None:
        await self._unblocked.wait()
        self.raw.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = code

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [orjson.loads(r) for r in self.raw]

    @property
    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == type_]

    def one(self, type_: str) -> dict[str, Any]:
        found = self.of_type(type_)
        assert len(found) == 1, f"{type_}: {len(found)} frames in {self.types}"
        return found[0]


async def settle() -> None:
    """Let the bus, the hub and every connection's pump run until nothing moves."""
    for _ in range(30):
        await asyncio.sleep(0)


def make_hub(bus: MemoryEventBus, *, queue_size: int = 1000, health_interval: float = 3600) -> ChatHub:
    container = SimpleNamespace(bus=bus, settings=Settings(chat=ChatSettings(ws_health_interval=health_interval)))
    return ChatHub(cast(Container, container), queue_size=queue_size)


@pytest.fixture
async def bus() -> AsyncIterator[MemoryEventBus]:
    bus = MemoryEventBus()
    await bus.start()
    yield bus
    await bus.close()


async def running_hub(bus: MemoryEventBus) -> AsyncIterator[ChatHub]:
    hub = make_hub(bus)
    await hub.start()
    yield hub
    await hub.close()


@pytest.fixture
async def hub(bus: MemoryEventBus) -> AsyncIterator[ChatHub]:
    async for running in running_hub(bus):
        yield running


_ids = iter(range(1, 1_000_000))


async def connect(hub: ChatHub, user: User, member_cids: tuple[str, ...] = (CID,),
                  socket: FakeSocket | None = None) -> tuple[str, FakeSocket]:
    socket = socket or FakeSocket()
    connection_id = f"conn-{next(_ids)}"
    hub.connect(connection_id, user, socket, member_cids, health_check(connection_id, {"id": user.chat_id}))
    await settle()
    return connection_id, socket


def channel(cid: str = CID) -> Channel:
    type_, _, id_ = cid.partition(":")
    return Channel(pk=1, type=type_, id=id_, cid=cid, created_at=T0, updated_at=T0, member_count=3)


def users(*found: User) -> Users:
    out = Users()
    out.add(*found)
    return out


def view(text: str = "hi", user: User = ALICE, **fields: Any) -> MessageView:
    return MessageView(message=Message(pk=1, id="m1", channel_pk=1, cid=CID, user_id=user.id, type="regular",
                                       text=text, created_at=T0, updated_at=T0, **fields))


def member(user: User, **fields: Any) -> Member:
    return Member(channel_pk=1, user_id=user.id, created_at=T0, updated_at=T0, **fields)


def message_new(text: str = "hi", **fields: Any) -> MessageNew:
    return MessageNew(topic=channel_topic(CID), channel=channel(), view=view(text, **fields),
                      users=users(ALICE, BOB, CAROL), actor_id=ALICE.id,
                      member_ids=[ALICE.id, BOB.id, CAROL.id])


async def publish(bus: MemoryEventBus, event: Event) -> None:
    await bus.publish(event)
    await settle()


async def test_the_first_frame_is_the_hello_even_when_an_event_races_it(hub: ChatHub) -> None:
    _, bob = await connect(hub, BOB)
    socket = FakeSocket()
    hub.connect("c-alice", ALICE, socket, [CID], health_check("c-alice", {"id": "alice"}))
    hub.send("c-alice", {"type": "custom"})
    await settle()
    assert socket.types == ["health.check", "custom"]
    assert socket.frames[0]["connection_id"] == "c-alice" and socket.frames[0]["me"] == {"id": "alice"}
    assert bob.types[0] == "health.check"


async def test_a_watcher_gets_message_new_and_a_member_not_watching_gets_notification_message_new(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    b_id, bob = await connect(hub, BOB)
    assert hub.watch(a_id, CID) and hub.watch(b_id, CID)
    _, carol = await connect(hub, CAROL)

    await publish(bus, message_new("hello"))

    event = bob.one("message.new")
    assert event["cid"] == CID and event["channel_type"] == "messaging" and event["channel_id"] == "general"
    assert event["message"]["text"] == "hello" and event["user"]["id"] == "alice"
    assert event["watcher_count"] == 2 and event["created_at"]
    assert alice.one("message.new")["message"]["id"] == "m1"
    notification = carol.one("notification.message_new")
    assert notification["channel"]["cid"] == CID and notification["message"]["text"] == "hello"
    assert "message.new" not in carol.types
    assert "notification.message_new" not in bob.types


async def test_every_watcher_gets_the_same_serialised_frame(hub: ChatHub, bus: MemoryEventBus) -> None:
    sockets = []
    for i in range(20):
        connection_id, socket = await connect(hub, User(id=100 + i, chat_id=f"w{i}", created_at=T0, updated_at=T0))
        hub.watch(connection_id, CID)
        sockets.append(socket)

    await publish(bus, message_new())

    frames = [s.raw[-1] for s in sockets]
    assert all(frame is frames[0] for frame in frames)  # one serialisation, shared
    assert orjson.loads(frames[0])["watcher_count"] == 20


async def test_a_thread_reply_not_shown_in_the_channel_sends_no_notification(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    _, carol = await connect(hub, CAROL)
    await publish(bus, message_new(parent_id="parent"))
    assert "notification.message_new" not in carol.types


async def test_watching_start_and_stop_carry_the_watcher_count_and_count_each_user_once(hub: ChatHub) -> None:
    a_id, alice = await connect(hub, ALICE)
    b1, bob = await connect(hub, BOB)
    b2, _ = await connect(hub, BOB)
    hub.watch(a_id, CID)
    hub.watch(b1, CID)
    hub.watch(b2, CID)
    await settle()

    assert [e["user"]["id"] for e in alice.of_type("user.watching.start")] == ["alice", "bob"]
    assert alice.of_type("user.watching.start")[-1]["watcher_count"] == 2
    assert hub.watcher_count(CID) == 2 and sorted(hub.watcher_ids(CID)) == [1, 2]
    assert {u.chat_id for u in hub.watcher_users(CID)} == {"alice", "bob"}

    hub.unwatch(b1, CID)
    await settle()
    assert alice.of_type("user.watching.stop") == []  # bob still watches on his other connection
    hub.unwatch(b2, CID)
    await settle()
    stop = alice.one("user.watching.stop")
    assert stop["user"]["id"] == "bob" and stop["watcher_count"] == 1 and stop["cid"] == CID
    assert hub.watcher_ids(CID) == [1]


async def test_watch_is_refused_for_an_unknown_connection_or_another_users_connection(hub: ChatHub) -> None:
    a_id, _ = await connect(hub, ALICE)
    assert hub.watch("elsewhere", CID) is False
    assert hub.watch(a_id, CID, user_id=BOB.id) is False
    assert hub.watch(a_id, CID, user_id=ALICE.id) is True
    hub.unwatch("elsewhere", CID)  # no error


async def test_presence_follows_the_first_and_last_connection_and_reaches_watchers_of_the_users_channels(
    hub: ChatHub,
) -> None:
    b_id, bob = await connect(hub, BOB)
    hub.watch(b_id, CID)
    _, carol = await connect(hub, CAROL, member_cids=())  # watches nothing: hears no presence

    assert not hub.is_online(ALICE.id)
    a1, alice = await connect(hub, ALICE, member_cids=(CID,))
    a2, _ = await connect(hub, ALICE, member_cids=(CID,))
    assert hub.is_online(ALICE.id)
    online = bob.one("user.presence.changed")
    assert online["user"]["id"] == "alice" and online["user"]["online"] is True

    await hub.disconnect(a1)
    await settle()
    assert hub.is_online(ALICE.id) and len(bob.of_type("user.presence.changed")) == 1
    await hub.disconnect(a2)
    await hub.disconnect(a2)  # idempotent
    await settle()
    assert not hub.is_online(ALICE.id)
    assert [e["user"]["online"] for e in bob.of_type("user.presence.changed")] == [True, False]
    assert "user.presence.changed" not in carol.types
    assert "user.presence.changed" not in alice.types


async def test_an_invisible_user_has_no_presence_events(hub: ChatHub) -> None:
    b_id, bob = await connect(hub, BOB)
    hub.watch(b_id, CID)
    await connect(hub, ALICE.model_copy(update={"invisible": True}))
    assert "user.presence.changed" not in bob.types


async def test_disconnecting_stops_watching(hub: ChatHub) -> None:
    a_id, _ = await connect(hub, ALICE)
    b_id, bob = await connect(hub, BOB)
    hub.watch(a_id, CID)
    hub.watch(b_id, CID)
    await hub.disconnect(a_id)
    await settle()
    assert hub.watcher_ids(CID) == [BOB.id]
    assert bob.one("user.watching.stop")["user"]["id"] == "alice"


async def test_typing_and_custom_events_reach_every_watcher_with_their_payload(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    b_id, bob = await connect(hub, BOB)
    _, carol = await connect(hub, CAROL)
    hub.watch(a_id, CID)
    hub.watch(b_id, CID)

    await publish(bus, ChannelClientEvent(topic=channel_topic(CID), channel=channel(), users=users(BOB),
                                          actor_id=BOB.id, event_type="typing.start",
                                          payload={"parent_id": "p1", "type": "ignored", "cid": "ignored"}))

    typing = alice.one("typing.start")
    assert typing["user"]["id"] == "bob" and typing["parent_id"] == "p1" and typing["cid"] == CID
    assert bob.one("typing.start")["user"]["id"] == "bob"
    assert "typing.start" not in carol.types


@pytest.mark.parametrize(
    ("event", "stream_type"),
    [
        (MessageUpdated(topic=channel_topic(CID), channel=channel(), view=view("edited"), users=users(ALICE),
                        actor_id=ALICE.id), "message.updated"),
        (MessageDeleted(topic=channel_topic(CID), channel=channel(), view=view(), users=users(ALICE),
                        actor_id=ALICE.id, hard=True), "message.deleted"),
        (ReactionChanged(topic=channel_topic(CID), channel=channel(), kind="new", view=view(), users=users(ALICE),
                         actor_id=ALICE.id,
                         reaction=Reaction(message_id="m1", user_id=ALICE.id, type="like", created_at=T0,
                                           updated_at=T0)), "reaction.new"),
    ],
)
async def test_message_changes_reach_watchers_only(
    hub: ChatHub, bus: MemoryEventBus, event: Event, stream_type: str
) -> None:
    b_id, bob = await connect(hub, BOB)
    hub.watch(b_id, CID)
    _, carol = await connect(hub, CAROL)
    await publish(bus, event.model_copy(update={"member_ids": [BOB.id, CAROL.id]}))
    got = bob.one(stream_type)
    assert got["message"]["id"] == "m1" and got["user"]["id"] == "alice"
    if stream_type == "reaction.new":
        assert got["reaction"]["type"] == "like" and got["reaction"]["user_id"] == "alice"
    if stream_type == "message.deleted":
        assert got["hard_delete"] is True
    assert carol.types == ["health.check"]


async def test_message_read_reaches_watchers_and_notification_mark_read_the_readers_other_connections(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    b_watching, bob = await connect(hub, BOB)
    _, bob_phone = await connect(hub, BOB)
    hub.watch(a_id, CID)
    hub.watch(b_watching, CID)

    await publish(bus, MessageRead(topic=channel_topic(CID), channel=channel(), users=users(BOB), actor_id=BOB.id,
                                   member_ids=[BOB.id], last_read_message_id="m1"))

    read = alice.one("message.read")
    assert read["user"]["id"] == "bob" and read["last_read_message_id"] == "m1"
    assert bob.one("message.read")["user"]["id"] == "bob"
    mark = bob_phone.one("notification.mark_read")
    assert mark["cid"] == CID and mark["channel"]["cid"] == CID
    assert "notification.mark_read" not in bob.types and "notification.mark_read" not in alice.types


async def test_mark_unread_goes_to_every_connection_of_that_user_only(hub: ChatHub, bus: MemoryEventBus) -> None:
    a_id, alice = await connect(hub, ALICE)
    b_id, bob = await connect(hub, BOB)
    hub.watch(a_id, CID)
    hub.watch(b_id, CID)
    unread = member(BOB, unread_messages=3, last_read=T0, last_read_message_id="m0")
    await publish(bus, MarkedUnread(topic=channel_topic(CID), channel=channel(), member=unread, actor_id=BOB.id,
                                    member_ids=[BOB.id], first_unread_message_id="m1"))
    event = bob.one("notification.mark_unread")
    assert event["user"]["id"] == "bob"  # the event had no user snapshot: the hub knows its own users
    assert event["unread_messages"] == 3 and event["last_read_message_id"] == "m0" and event["last_read_at"]
    assert event["first_unread_message_id"] == "m1"
    assert "notification.mark_unread" not in alice.types


async def test_member_added_reaches_watchers_and_the_added_user_gets_notification_added_to_channel(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    hub.watch(a_id, CID)
    _, carol = await connect(hub, CAROL, member_cids=())

    await publish(bus, MemberChanged(topic=channel_topic(CID), channel=channel(), kind="added", member=member(CAROL),
                                     users=users(CAROL), actor_id=ALICE.id, member_ids=[CAROL.id]))

    added = alice.one("member.added")
    assert added["member"]["user"]["id"] == "carol" and added["user"]["id"] == "carol"
    notification = carol.one("notification.added_to_channel")
    assert notification["channel"]["cid"] == CID and notification["member"]["user_id"] == "carol"
    assert hub.connection(next(iter(hub._by_user[CAROL.id]))).member_cids == {CID}  # presence now reaches here


async def test_a_removed_member_is_notified_even_while_watching_and_stops_watching(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    c_id, carol = await connect(hub, CAROL)
    hub.watch(a_id, CID)
    hub.watch(c_id, CID)

    await publish(bus, MemberChanged(topic=channel_topic(CID), channel=channel(), kind="removed", member=member(CAROL),
                                     actor_id=ALICE.id, member_ids=[CAROL.id]))

    assert alice.one("member.removed")["user"]["id"] == "carol"
    assert carol.one("notification.removed_from_channel")["cid"] == CID
    assert hub.watcher_ids(CID) == [ALICE.id]


async def test_an_invitation_notifies_the_invited_user(hub: ChatHub, bus: MemoryEventBus) -> None:
    _, carol = await connect(hub, CAROL, member_cids=())
    await publish(bus, MemberChanged(topic=channel_topic(CID), channel=channel(), kind="invited",
                                     member=member(CAROL, invited=True), users=users(CAROL), actor_id=ALICE.id,
                                     member_ids=[CAROL.id]))
    assert carol.one("notification.invited")["member"]["invited"] is True


async def test_deleting_a_channel_tells_watchers_and_members_and_forgets_its_watchers(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    hub.watch(a_id, CID)
    _, bob = await connect(hub, BOB)

    await publish(bus, ChannelDeleted(topic=channel_topic(CID), channel=channel(), actor_id=ALICE.id,
                                      member_ids=[ALICE.id, BOB.id]))

    assert alice.one("channel.deleted")["channel"]["cid"] == CID
    assert bob.one("notification.channel_deleted")["cid"] == CID
    assert "notification.channel_deleted" not in alice.types
    assert hub.watcher_count(CID) == 0
    assert "user.watching.stop" not in alice.types


async def test_hiding_a_channel_tells_that_member_only(hub: ChatHub, bus: MemoryEventBus) -> None:
    a_id, alice = await connect(hub, ALICE)
    b_id, bob = await connect(hub, BOB)
    hub.watch(a_id, CID)
    hub.watch(b_id, CID)
    await publish(bus, ChannelHidden(topic=channel_topic(CID), channel=channel(), users=users(BOB), actor_id=BOB.id,
                                     member_ids=[BOB.id], clear_history=True))
    assert bob.one("channel.hidden")["clear_history"] is True
    assert "channel.hidden" not in alice.types


async def test_an_event_nobody_here_cares_about_is_not_rendered(hub: ChatHub, bus: MemoryEventBus) -> None:
    _, alice = await connect(hub, ALICE)
    event = message_new().model_copy(update={"member_ids": [99]})
    await publish(bus, event)
    assert alice.types == ["health.check"]


async def test_user_updated_refreshes_the_connections_user_and_reaches_its_connections_and_watchers(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    b_id, bob = await connect(hub, BOB)
    hub.watch(b_id, CID)
    renamed = ALICE.model_copy(update={"name": "Alicia"})
    await publish(bus, UserUpdated(topic=user_topic(ALICE.id), user=renamed))
    assert alice.one("user.updated")["user"]["name"] == "Alicia"
    assert bob.one("user.updated")["user"]["online"] is True
    connection = hub.connection(a_id)
    assert connection is not None and connection.user.name == "Alicia"


async def test_a_deactivated_or_deleted_user_is_told_then_disconnected_for_good(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    a_id, alice = await connect(hub, ALICE)
    _, bob = await connect(hub, BOB)
    await publish(bus, UserUpdated(topic=user_topic(ALICE.id), user=ALICE.model_copy(update={"deactivated_at": T0})))
    await publish(bus, UserDeleted(topic=user_topic(BOB.id), user=BOB, hard=True))
    assert alice.types[-1] == "user.updated" and alice.closed_with == CLOSE_PERMANENT
    assert bob.one("user.deleted")["hard_delete"] is True and bob.closed_with == CLOSE_PERMANENT
    assert not hub.is_online(ALICE.id) and not hub.is_online(BOB.id)


async def test_a_user_event_goes_to_that_users_connections(hub: ChatHub, bus: MemoryEventBus) -> None:
    _, alice = await connect(hub, ALICE)
    _, bob = await connect(hub, BOB)
    await publish(bus, UserClientEvent(topic=user_topic(BOB.id), user=BOB, event_type="friend_request",
                                       payload={"from": "alice"}))
    assert bob.one("friend_request")["from"] == "alice"
    assert "friend_request" not in alice.types


async def test_a_slow_socket_holds_up_nobody_and_is_closed_when_too_far_behind(bus: MemoryEventBus) -> None:
    hub = make_hub(bus, queue_size=5)
    await hub.start()
    try:
        slow_id, slow = await connect(hub, ALICE, socket=FakeSocket(blocked=True))
        fast_id, fast = await connect(hub, BOB)
        hub.watch(slow_id, CID)
        hub.watch(fast_id, CID)
        for i in range(10):
            await publish(bus, message_new(f"m{i}"))
        assert [f["message"]["text"] for f in fast.of_type("message.new")] == [f"m{i}" for i in range(10)]
        assert slow.closed_with == CLOSE_TOO_SLOW
        assert hub.connection(slow_id) is None and hub.watcher_ids(CID) == [BOB.id]
    finally:
        await hub.close()


async def test_the_heartbeat_sends_health_checks_with_the_connection_id(bus: MemoryEventBus) -> None:
    hub = make_hub(bus, health_interval=0.01)
    await hub.start()
    try:
        connection_id, socket = await connect(hub, ALICE)
        await asyncio.sleep(0.05)
        checks = socket.of_type("health.check")
        assert len(checks) >= 3
        assert all(c["connection_id"] == connection_id and "me" not in c for c in checks[1:])
    finally:
        await hub.close()


async def test_closing_the_hub_closes_every_socket_so_clients_reconnect(bus: MemoryEventBus) -> None:
    hub = make_hub(bus)
    await hub.start()
    _, alice = await connect(hub, ALICE)
    _, bob = await connect(hub, BOB)
    await hub.close()
    assert alice.closed_with == bob.closed_with == CLOSE_GOING_AWAY


async def test_a_channel_type_without_connect_events_gets_no_watching_events(hub: ChatHub) -> None:
    a_id, alice = await connect(hub, ALICE)
    b_id, _ = await connect(hub, BOB)
    hub.watch(a_id, CID, announce=False)
    hub.watch(b_id, CID, announce=False)
    hub.unwatch(b_id, CID)
    await settle()
    assert alice.types == ["health.check"] and hub.watcher_count(CID) == 1


async def test_a_crowded_channel_gets_no_watching_events(hub: ChatHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("townhall.api.chat.hub.WATCHING_EVENTS_MAX_WATCHERS", 1)
    a_id, alice = await connect(hub, ALICE)
    b_id, _ = await connect(hub, BOB)
    hub.watch(a_id, CID)
    hub.watch(b_id, CID)
    await settle()
    assert [e["user"]["id"] for e in alice.of_type("user.watching.start")] == ["alice"]


async def test_a_watch_asked_for_in_another_process_reaches_the_sockets_process(
    hub: ChatHub, bus: MemoryEventBus
) -> None:
    other = make_hub(bus)  # another process: same bus, none of the sockets
    await other.start()
    try:
        a_id, alice = await connect(hub, ALICE)
        assert other.watch(a_id, CID) is False
        await other.watch_anywhere(a_id, CID, ALICE.id)
        await settle()
        assert hub.watcher_ids(CID) == [ALICE.id] and other.watcher_ids(CID) == []
        assert other.watcher_count(CID) == 1  # the count spans processes
        await publish(bus, message_new())
        assert len(alice.of_type("message.new")) == 1  # once: only the socket's process delivers

        await other.watch_anywhere(a_id, CID, BOB.id, watch=False)  # not bob's socket
        await settle()
        assert hub.watcher_ids(CID) == [ALICE.id]
        await other.watch_anywhere(a_id, CID, ALICE.id, watch=False)
        await settle()
        assert hub.watcher_ids(CID) == []
    finally:
        await other.close()


# -- presence across processes (two hubs on one bus stand for two processes) -----------------------


@pytest.fixture
async def other_hub(bus: MemoryEventBus) -> AsyncIterator[ChatHub]:
    async for running in running_hub(bus):
        yield running


async def test_a_user_connected_to_another_process_is_online_here(hub: ChatHub, other_hub: ChatHub) -> None:
    a_id, alice = await connect(hub, ALICE)
    hub.watch(a_id, CID)
    await settle()
    b_id, _ = await connect(other_hub, BOB)
    assert hub.is_online(BOB.id) and other_hub.is_online(ALICE.id)
    changed = alice.one("user.presence.changed")  # alice watches a channel bob is a member of
    assert changed["user"]["id"] == "bob" and changed["user"]["online"] is True

    await other_hub.disconnect(b_id)
    await settle()
    assert not hub.is_online(BOB.id)
    assert [f["user"]["online"] for f in alice.of_type("user.presence.changed")] == [True, False]


async def test_a_second_connection_elsewhere_does_not_announce_presence_again(
    hub: ChatHub, other_hub: ChatHub
) -> None:
    a_id, alice = await connect(hub, ALICE)
    hub.watch(a_id, CID)
    await connect(other_hub, BOB)
    b2_id, _ = await connect(hub, BOB)  # bob on both processes
    await hub.disconnect(b2_id)  # still online on the other one
    await settle()
    assert hub.is_online(BOB.id)
    assert [f["user"]["online"] for f in alice.of_type("user.presence.changed")] == [True]


async def test_users_of_a_process_that_stops_announcing_go_offline(
    hub: ChatHub, other_hub: ChatHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    await connect(other_hub, BOB)
    assert hub.is_online(BOB.id)
    # the other process crashes: nothing more is heard from it, and its last list grows old
    users, _ = hub._remote[other_hub.process_id]
    hub._remote[other_hub.process_id] = (users, asyncio.get_running_loop().time() - 3600)
    hub._expire_remote()
    assert not hub.is_online(BOB.id)


async def test_a_hub_that_closes_takes_its_users_offline_elsewhere(bus: MemoryEventBus, hub: ChatHub) -> None:
    leaving = make_hub(bus)
    await leaving.start()
    await connect(leaving, BOB)
    assert hub.is_online(BOB.id)
    await leaving.close()
    await settle()
    assert not hub.is_online(BOB.id)


async def test_the_watcher_count_counts_watchers_on_every_process_once(hub: ChatHub, other_hub: ChatHub) -> None:
    a_id, _ = await connect(hub, ALICE)
    b_id, _ = await connect(other_hub, BOB)
    b2_id, _ = await connect(hub, BOB)
    hub.watch(a_id, CID)
    other_hub.watch(b_id, CID)
    hub.watch(b2_id, CID)  # bob watches on both processes: still one watcher
    await settle()
    assert hub.watcher_count(CID) == 2 and other_hub.watcher_count(CID) == 2
    assert [u.id for u in hub.watcher_users(CID)] == [ALICE.id, BOB.id]  # this process's watchers
    assert hub.remote_watcher_ids(CID) == [] and other_hub.remote_watcher_ids(CID) == [ALICE.id]

    other_hub.unwatch(b_id, CID)
    hub.unwatch(a_id, CID)
    await settle()
    assert hub.watcher_count(CID) == 1 and other_hub.watcher_count(CID) == 1


async def test_watchers_of_a_process_that_closes_stop_counting(bus: MemoryEventBus, hub: ChatHub) -> None:
    leaving = make_hub(bus)
    await leaving.start()
    b_id, _ = await connect(leaving, BOB)
    leaving.watch(b_id, CID)
    await settle()
    assert hub.watcher_count(CID) == 1
    await leaving.close()
    await settle()
    assert hub.watcher_count(CID) == 0
