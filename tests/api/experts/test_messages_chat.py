"""/experts/v1/messages: direct messages are the chat surface's distinct two-member channel, with
chat's unread counts and read marks, in both directions."""

from __future__ import annotations

from tests.api.experts.conftest import ApiMember, NewMember, error_of
from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.chat import channels, messages
from townhall.core.chat.permissions import Actor
from townhall.core.chat.store import channel_context
from townhall.core.experts.messages import chat_ids
from townhall.core.social import graph


async def chat_send(container: Container, sender: ApiMember, cid: str, text: str) -> None:
    """``sender`` sends ``text`` to channel ``cid`` as a chat client would (the chat core's send)."""
    async with container.uow() as uow:
        user = await accounts.get_user(uow.conn, sender.id)
        plan = await messages.check_send(uow.conn, Actor(user=user), user, cid, messages.MessageInput(text=text))
        await messages.do_send(uow, plan)


async def cid_of(container: Container, a: ApiMember, b: ApiMember) -> str:
    async with container.read() as conn:
        ids = await chat_ids(conn, [a.id, b.id])
    return f"messaging:{channels.distinct_id([ids[a.id], ids[b.id]])}"


async def test_a_sent_message_answers_the_seed_message_object(new_member: NewMember) -> None:
    me, vincent = await new_member(), await new_member(name="Vincent Roy")
    sent = await me.ok("POST", f"/messages/{vincent.id}", 201, data={"message": "Hey, what's up?"})
    assert set(sent) == {"created_at", "read", "message", "member_id"}
    assert sent["message"] == "Hey, what's up?" and sent["member_id"] == me.id and sent["read"] is False


async def test_the_recipient_sees_it_unread_then_both_see_it_read(new_member: NewMember) -> None:
    me, vincent = await new_member(name="Justin V"), await new_member(name="Vincent Roy", hourly_rate="20")
    await me.ok("POST", f"/messages/{vincent.id}", 201, data={"message": "Hey, what's up?"})
    await vincent.ok("POST", f"/messages/{me.id}", 201, json={"message": "Not much"})
    (conv,) = await me.ok("GET", "/messages")
    assert set(conv) == {"unread_message_count", "last_message", "other_member"}
    assert conv["unread_message_count"] == 1
    assert conv["last_message"] == {**conv["last_message"], "message": "Not much", "member_id": vincent.id,
                                     "read": False}
    assert conv["other_member"]["id"] == vincent.id and conv["other_member"]["hourly_rate"] == 20.0
    body = await me.ok("GET", f"/messages/{vincent.id}")
    assert body["other_member"]["name"] == "Vincent Roy"
    assert [(m["message"], m["member_id"], m["read"]) for m in body["messages"]] == [
        ("Not much", vincent.id, False), ("Hey, what's up?", me.id, True)]
    (conv,) = await me.ok("GET", "/messages")
    assert conv["unread_message_count"] == 0 and conv["last_message"]["read"] is True
    theirs = await vincent.ok("GET", f"/messages/{me.id}")
    assert [m["read"] for m in theirs["messages"]] == [True, True]


async def test_the_conversation_is_the_distinct_chat_channel_of_the_pair(
    new_member: NewMember, container: Container
) -> None:
    me, other = await new_member(), await new_member()
    await me.ok("POST", f"/messages/{other.id}", 201, data={"message": "hello"})
    async with container.read() as conn:
        ids = await chat_ids(conn, [me.id, other.id])
        assert ids == {me.id: str(me.id), other.id: str(other.id)}
        channel, _, member = await channel_context(conn, await cid_of(container, me, other), other.id)
    assert channel.type == "messaging" and channel.member_count == 2 and channel.id.startswith("!members-")
    assert member is not None and member.unread_messages == 1
    await chat_send(container, other, channel.cid, "sent from a Stream client")
    (conv,) = await me.ok("GET", "/messages")
    assert conv["unread_message_count"] == 1 and conv["last_message"]["message"] == "sent from a Stream client"
    assert (await me.ok("GET", f"/messages/{other.id}"))["messages"][0]["read"] is False
    async with container.read() as conn:
        _, _, mine = await channel_context(conn, channel.cid, me.id)
    assert mine is not None and mine.unread_messages == 0  # read here: read for chat too


async def test_a_chat_id_held_by_someone_else_is_never_reused(new_member: NewMember, container: Container) -> None:
    me, other = await new_member(), await new_member()
    async with container.uow() as uow:  # a chat user whose Stream id is other's user id in digits
        (squatter,) = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=str(other.id))])
    await me.ok("POST", f"/messages/{other.id}", 201, data={"message": "hi"})
    async with container.read() as conn:
        ids = await chat_ids(conn, [me.id, other.id, squatter.id])
    assert ids[other.id] == f"member-{other.id}" and ids[squatter.id] == str(other.id)


async def test_conversations_come_most_recent_first(new_member: NewMember) -> None:
    me, a, b = await new_member(), await new_member(), await new_member()
    await me.ok("POST", f"/messages/{a.id}", 201, data={"message": "to a"})
    await me.ok("POST", f"/messages/{b.id}", 201, data={"message": "to b"})
    assert [c["other_member"]["id"] for c in await me.ok("GET", "/messages")] == [b.id, a.id]
    await a.ok("POST", f"/messages/{me.id}", 201, data={"message": "from a"})
    assert [c["other_member"]["id"] for c in await me.ok("GET", "/messages")] == [a.id, b.id]
    assert [c["other_member"]["id"] for c in await me.ok("GET", "/messages", params={"limit": 1, "offset": 1})] \
        == [b.id]


async def test_a_conversation_shows_the_last_50_newest_first(new_member: NewMember) -> None:
    me, other = await new_member(), await new_member()
    for i in range(53):
        await me.ok("POST", f"/messages/{other.id}", 201, data={"message": f"m{i}"})
    got = (await other.ok("GET", f"/messages/{me.id}"))["messages"]
    assert [m["message"] for m in got] == [f"m{i}" for i in range(52, 2, -1)]


async def test_no_conversation_yet_is_empty_and_writes_nothing(new_member: NewMember, container: Container) -> None:
    me, other = await new_member(), await new_member()
    body = await me.ok("GET", f"/messages/{other.id}")
    assert body["messages"] == [] and body["other_member"]["id"] == other.id
    assert await me.ok("GET", "/messages") == []
    async with container.read() as conn:
        assert await chat_ids(conn, [me.id, other.id]) == {}


async def test_bad_messages_are_refused(new_member: NewMember, container: Container) -> None:
    me, other = await new_member(), await new_member()
    assert error_of(await me.call("POST", f"/messages/{other.id}", data={})) == (400, "invalid_request")
    assert error_of(await me.call("POST", f"/messages/{other.id}", data={"message": "   "})) == (400, "invalid_request")
    assert error_of(await me.call("POST", f"/messages/{other.id}", data={"message": "x" * 5001})) \
        == (400, "invalid_request")
    assert error_of(await me.call("POST", f"/messages/{me.id}", data={"message": "me"})) == (400, "invalid_request")
    assert error_of(await me.call("POST", "/messages/999999999", data={"message": "hi"})) == (404, "not_found")
    assert error_of(await me.call("POST", "/messages/abc", data={"message": "hi"})) == (404, "not_found")
    assert error_of(await me.call("GET", "/messages/999999999")) == (404, "not_found")
    assert error_of(await me.call("GET", "/messages", params={"limit": 31})) == (400, "invalid_request")
    async with container.read() as conn:  # nothing was half made
        assert await chat_ids(conn, [me.id, other.id]) == {}


async def test_members_who_blocked_one_another_cannot_message(new_member: NewMember, container: Container) -> None:
    me, other = await new_member(), await new_member()
    async with container.uow() as uow:
        await graph.do_block(uow, other.id, me.id)
    assert error_of(await me.call("POST", f"/messages/{other.id}", data={"message": "hi"})) == (403, "forbidden")
    assert error_of(await other.call("POST", f"/messages/{me.id}", data={"message": "hi"})) == (403, "forbidden")
