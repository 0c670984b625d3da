"""Every chat action emits exactly the events clients need, and applying them keeps a client's
copy of the read state equal to a fresh fetch (the Zulip verify_action discipline)."""

from __future__ import annotations

from townhall.container import Container
from townhall.core.chat import channels, messages, reactions, reads
from townhall.core.chat.events import (
    ChannelHidden,
    ChannelTruncated,
    ChannelUpdated,
    MemberChanged,
    MessageDeleted,
    MessageNew,
    MessageRead,
    MessageUpdated,
    ReactionChanged,
)
from townhall.core.chat.permissions import Actor
from townhall.core.chat.store import get_member

from .factories import SERVER, make_channel, make_users


async def _as(container: Container, fn):
    async with container.uow() as uow:
        result = await fn(uow)
    return result, uow.events


async def _send(container: Container, actor: Actor, sender, channel, text: str):
    async with container.read() as conn:
        plan = await messages.check_send(conn, actor, sender, channel.cid, messages.MessageInput(text=text))
    return await _as(container, lambda uow: messages.do_send(uow, plan))


async def test_creating_a_channel_with_members_emits_one_member_added_per_member(container) -> None:
    alice, bob = await make_users(container, "alice", "bob")

    async def act(uow):
        return await channels.get_or_create(uow, SERVER, "messaging", "ev-create-" + alice.chat_id, {},
                                            member_chat_ids=[alice.chat_id, bob.chat_id], creator_chat_id=alice.chat_id)
    (channel, created), events = await _as(container, act)
    assert created
    assert [(type(e), e.kind, e.member.user_id) for e in events] == [
        (MemberChanged, "added", alice.id), (MemberChanged, "added", bob.id)]
    assert all(e.topic == f"channel:{channel.cid}" for e in events)


async def test_sending_a_message_emits_message_new_for_every_member(container) -> None:
    alice, bob = await make_users(container, "alice", "bob")
    channel = await make_channel(container, alice, [alice, bob])
    (view_users_created, events) = await _send(container, Actor(alice), alice, channel, "hi")
    view, _, created = view_users_created
    assert created
    assert [type(e) for e in events] == [MessageNew]
    assert events[0].view.message.id == view.message.id
    assert sorted(events[0].member_ids) == sorted([alice.id, bob.id])
    assert events[0].users.get(alice.id) is not None  # rendered without a query


async def test_applying_message_and_read_events_keeps_unread_counts_equal_to_a_fetch(container) -> None:
    alice, bob, carol = await make_users(container, "alice", "bob", "carol")
    channel = await make_channel(container, alice, [alice, bob, carol])
    client_unread = {alice.id: 0, bob.id: 0, carol.id: 0}  # what bob's, carol's... clients believe

    def apply(events) -> None:
        for e in events:
            if isinstance(e, MessageNew):
                for member in e.member_ids:
                    client_unread[member] = 0 if member == e.actor_id else client_unread[member] + 1
            elif isinstance(e, MessageRead):
                client_unread[e.actor_id] = 0

    for sender, text in [(alice, "one"), (bob, "two"), (alice, "three")]:
        _, events = await _send(container, Actor(sender), sender, channel, text)
        apply(events)
    async def read(uow):
        member = await get_member(uow.conn, channel.pk, carol.id)
        return await reads.mark_read(uow, Actor(carol), channel, member)
    _, events = await _as(container, read)
    assert [type(e) for e in events] == [MessageRead]
    apply(events)

    async with container.read() as conn:
        fetched = await reads.unread_by_channel(conn, [alice.id, bob.id, carol.id])
    truth = {u: next(r.unread for r in rows if r.cid == channel.cid) for u, rows in fetched.items()}
    assert truth == client_unread == {alice.id: 0, bob.id: 1, carol.id: 0}  # sending reads the channel


async def test_editing_deleting_and_reacting_emit_their_events(container) -> None:
    alice, bob = await make_users(container, "alice", "bob")
    channel = await make_channel(container, alice, [alice, bob])
    ((view, _, _), _) = await _send(container, Actor(alice), alice, channel, "hello")
    message_id = view.message.id

    _, events = await _as(container, lambda uow: messages.edit(uow, Actor(alice), message_id, {"text": "hey"}))
    assert [type(e) for e in events] == [MessageUpdated]
    assert events[0].view.message.text == "hey"

    _, events = await _as(container, lambda uow: reactions.send(uow, Actor(bob), bob, message_id, "like"))
    assert [(type(e), e.kind) for e in events] == [(ReactionChanged, "new")]
    assert events[0].view.message.reaction_counts == {"like": 1}

    _, events = await _as(container, lambda uow: reactions.remove(uow, Actor(bob), bob, message_id, "like"))
    assert [(type(e), e.kind) for e in events] == [(ReactionChanged, "deleted")]
    assert events[0].view.message.reaction_counts == {}

    _, events = await _as(container, lambda uow: messages.delete_message(uow, Actor(alice), message_id, hard=False))
    assert [type(e) for e in events] == [MessageDeleted]
    assert events[0].view.message.type == "deleted"


async def test_channel_updates_hide_and_truncate_emit_their_events(container) -> None:
    alice, bob = await make_users(container, "alice", "bob")
    channel = await make_channel(container, alice, [alice, bob])
    owner = Actor(alice)

    async def upd(uow):
        member = await get_member(uow.conn, channel.pk, alice.id)
        return await channels.update_channel(uow, owner, channel, member, {"topic": "news"})
    fresh, events = await _as(container, upd)
    assert [type(e) for e in events] == [ChannelUpdated]
    assert events[0].channel.custom == {"topic": "news"} == fresh.custom

    async def hide(uow):
        member = await get_member(uow.conn, channel.pk, bob.id)
        return await channels.hide(uow, Actor(bob), channel, member, clear_history=False)
    _, events = await _as(container, hide)
    assert [(type(e), e.member_ids) for e in events] == [(ChannelHidden, [bob.id])]

    async def trunc(uow):
        member = await get_member(uow.conn, channel.pk, alice.id)
        return await channels.truncate(uow, owner, channel, member, hard=False)
    _, events = await _as(container, trunc)
    assert [type(e) for e in events] == [ChannelTruncated]


async def test_events_are_published_only_after_commit(container) -> None:
    alice, bob = await make_users(container, "alice", "bob")
    channel = await make_channel(container, alice, [alice, bob])
    seen = []

    async def handler(event) -> None:
        seen.append(event)
    sub = container.bus.subscribe(f"channel:{channel.cid}", handler)
    try:
        try:
            async with container.uow() as uow:
                await messages.send(uow, Actor(alice), alice, channel, messages.MessageInput(text="rolled back"))
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        import asyncio
        await asyncio.sleep(0.05)
        assert seen == []
    finally:
        sub.close()
