"""Direct messages over the chat core: the chat ids members get (the accounts core gives them), which
channels are conversations, and what a conversation shows."""

from __future__ import annotations

import uuid

from tests.core.experts.factories import make_member
from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.chat import channels, messages
from townhall.core.chat.permissions import Actor
from townhall.core.chat.store import channel_context, seen_by
from townhall.core.experts import messages as direct


async def squat(container: Container, *chat_ids: str) -> None:
    """Chat users (made by a Stream client) holding these chat ids."""
    async with container.uow() as uow:
        await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=c) for c in chat_ids])


async def test_a_member_gets_their_id_as_chat_id_unless_it_is_taken(container: Container) -> None:
    free, _ = await make_member(container)
    taken, _ = await make_member(container)
    both, _ = await make_member(container)
    await squat(container, str(taken), str(both), f"member-{both}")
    async with container.uow() as uow:
        got = [await accounts.do_ensure_chat_id(uow, u) for u in (free, taken, both)]
        again = await accounts.do_ensure_chat_id(uow, both)
    assert got[:2] == [str(free), f"member-{taken}"]
    assert got[2].startswith(f"member-{both}-") and again == got[2]
    async with container.read() as conn:
        assert await direct.chat_ids(conn, [free, taken, both]) == dict(zip((free, taken, both), got, strict=True))


async def test_an_existing_chat_identity_is_kept(container: Container) -> None:
    chat_id = f"u-{uuid.uuid4().hex[:10]}"
    async with container.uow() as uow:
        (user,) = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=chat_id, name="Streamer")])
        assert await accounts.do_ensure_chat_id(uow, user.id) == chat_id


async def _send_direct(container: Container, me: int, other: int, text: str) -> None:
    async with container.uow() as uow:
        await direct.do_send(uow, me, other, text)


async def _channel(container: Container, creator: int, member_ids: list[int], channel_id: str | None) -> str:
    async with container.uow() as uow:
        ids = [await accounts.do_ensure_chat_id(uow, u) for u in member_ids]
        actor = Actor(user=await accounts.get_user(uow.conn, creator))
        channel, _ = await channels.get_or_create(uow, actor, "messaging", channel_id, {}, member_chat_ids=ids)
        plan = await messages.check_send(uow.conn, actor, actor.user, channel.cid,  # type: ignore[arg-type]
                                         messages.MessageInput(text="group hello"))
        await messages.do_send(uow, plan)
    return channel.cid


async def test_only_the_pairs_distinct_channels_are_conversations(container: Container) -> None:
    me, other, third = [(await make_member(container))[0] for _ in range(3)]
    await _channel(container, me, [me, other], f"named-{uuid.uuid4().hex[:8]}")
    await _channel(container, me, [me, other, third], None)
    async with container.read() as conn:
        assert await direct.conversations(conn, me) == []
    await _send_direct(container, me, other, "just us")
    async with container.read() as conn:
        (conv,) = await direct.conversations(conn, me)
    assert conv.other_member_id == other and conv.last_message is not None
    assert conv.last_message.text == "just us"


async def test_deleted_messages_are_not_shown_and_hidden_conversations_return_on_a_new_message(
    container: Container
) -> None:
    me, other = [(await make_member(container))[0] for _ in range(2)]
    await _send_direct(container, me, other, "keep")
    await _send_direct(container, me, other, "oops")
    async with container.read() as conn:
        ids = await direct.chat_ids(conn, [me, other])
    cid = f"messaging:{channels.distinct_id(list(ids.values()))}"
    async with container.uow() as uow:
        actor = Actor(user=await accounts.get_user(uow.conn, me))
        channel, _, member = await channel_context(uow.conn, cid, me)
        latest = (await channels.channel_messages(uow.conn, channel, member, channels.Page(limit=1),
                                                  seen_by(me)))[-1]
        await messages.delete_message(uow, actor, latest.id, hard=False)
        await channels.hide(uow, actor, channel, member, clear_history=False)
    async with container.read() as conn:
        assert [m.text for m in await direct.conversation(conn, me, other)] == ["keep"]
        assert await direct.conversations(conn, me) == []
    await _send_direct(container, other, me, "back")
    async with container.read() as conn:
        (conv,) = await direct.conversations(conn, me)
    assert conv.unread_message_count == 1 and conv.last_message is not None and conv.last_message.text == "back"


async def test_messages_restricted_to_others_stay_hidden(container: Container) -> None:
    me, other = [(await make_member(container))[0] for _ in range(2)]
    await _send_direct(container, other, me, "for both")
    async with container.uow() as uow:
        ids = await direct.chat_ids(uow.conn, [me, other])
        sender = await accounts.get_user(uow.conn, other)
        cid = f"messaging:{channels.distinct_id(list(ids.values()))}"
        plan = await messages.check_send(uow.conn, Actor(user=sender, server=True), sender, cid,
                                         messages.MessageInput(text="for the sender",
                                                               restricted_visibility=[ids[other]]))
        await messages.do_send(uow, plan)
    async with container.read() as conn:
        assert [m.text for m in await direct.conversation(conn, me, other)] == ["for both"]
        assert [m.text for m in await direct.conversation(conn, other, me)] == ["for the sender", "for both"]
