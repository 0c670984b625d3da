"""The per-process cache of channels and memberships that sending a message checks: a change made
elsewhere is seen once its event arrives, or at the latest after the cache's ttl."""

from __future__ import annotations

from townhall.container import Container
from townhall.core.chat import channels, messages
from townhall.core.chat.contexts import ChannelContexts

from .factories import SERVER, make_channel, make_users


async def _remove(container: Container, channel, chat_id: str) -> list:
    async with container.uow() as uow:
        await channels.remove_members(uow, SERVER, channel, None, [chat_id])
    return uow.events


async def test_a_membership_change_of_another_process_is_seen_when_its_event_arrives(container) -> None:
    owner, member = await make_users(container, "owner", "member")
    channel = await make_channel(container, owner, [owner, member])
    contexts = ChannelContexts(ttl=3600)  # not this container's listener: as if in another process
    async with container.read() as conn:
        _, _, found, ids = await contexts.get(conn, channel.cid, member.id)
    assert found is not None and member.id in ids
    events = await _remove(container, channel, member.chat_id)
    async with container.read() as conn:
        _, _, stale, _ = await contexts.get(conn, channel.cid, member.id)
    assert stale is not None  # no event seen yet
    for event in events:
        await contexts.on_event(event)
    async with container.read() as conn:
        _, _, gone, ids = await contexts.get(conn, channel.cid, member.id)
    assert gone is None and member.id not in ids and owner.id in ids


async def test_without_events_a_change_is_seen_after_the_ttl(container) -> None:
    owner, member = await make_users(container, "owner", "member")
    channel = await make_channel(container, owner, [owner, member])
    contexts = ChannelContexts(ttl=0)
    async with container.read() as conn:
        assert (await contexts.get(conn, channel.cid, member.id))[2] is not None
    await _remove(container, channel, member.chat_id)
    async with container.read() as conn:
        assert (await contexts.get(conn, channel.cid, member.id))[2] is None


async def test_message_events_keep_the_cache_and_channel_events_clear_it(container) -> None:
    owner, = await make_users(container, "owner")
    channel = await make_channel(container, owner, [owner])
    contexts = ChannelContexts(ttl=3600)
    async with container.read() as conn:
        first = await contexts.get(conn, channel.cid, owner.id)
    async with container.uow() as uow:
        plan = await messages.check_send(uow.conn, SERVER, owner, channel.cid, messages.MessageInput(text="hi"))
        await messages.do_send(uow, plan)
    contexts.observe(uow.events)
    async with container.read() as conn:
        assert (await contexts.get(conn, channel.cid, owner.id))[0] is first[0]  # kept
    async with container.uow() as uow:
        await channels.update_channel(uow, SERVER, channel, None, {"frozen": True}, partial_unset=[])
    contexts.observe(uow.events)
    async with container.read() as conn:
        second = await contexts.get(conn, channel.cid, owner.id)
    assert not first[0].frozen and second[0].frozen
