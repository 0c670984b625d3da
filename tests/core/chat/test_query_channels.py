"""Querying channels assembles every channel's state with a fixed number of queries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from townhall.container import Container
from townhall.core.accounts.models import User
from townhall.core.chat import channels, messages
from townhall.core.chat.channels import Page, StateOptions
from townhall.core.chat.messages import MessageInput
from townhall.core.chat.models import Channel
from townhall.core.chat.permissions import Actor

from .factories import SERVER, make_channel, make_users


@contextmanager
def counting_queries(container: Container) -> Iterator[list[str]]:
    """The SQL statements this task runs through the container's database while the block runs
    (not those of background tasks sharing the container, such as an outbox worker's polls)."""
    db = container.db
    engine = db._sqlite._engine if db._sqlite is not None else db.engine.sync_engine
    seen: list[str] = []
    task = asyncio.current_task()

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if asyncio.current_task() is not task:
            return
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def send(container: Container, sender: User, channel: Channel, text: str, **fields: object) -> str:
    async with container.uow() as uow:
        view, _, _ = await messages.send(uow, SERVER, sender, channel, MessageInput(text=text, **fields))
    return view.message.id


async def query_cids(container: Container, actor: Actor, cids: list[str],
                     options: StateOptions) -> dict[str, channels.ChannelState]:
    async with container.read() as conn:
        found = await channels.query_channels(conn, actor, {"cid": {"$in": cids}}, [],
                                              limit=30, offset=0, options=options)
    return {s.channel.cid: s for s in found}


async def test_each_queried_channel_has_its_own_latest_messages_members_and_pins(container: Container) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    first = await make_channel(container, ann, [ann, bob])
    second = await make_channel(container, ann, [ann, bob, cat])
    for i in range(5):
        await send(container, ann, first, f"first {i}")
    await send(container, bob, second, "second 0", pinned=True)
    await send(container, cat, second, "second 1")
    actor = Actor(user=ann, server=False)

    states = await query_cids(container, actor, [first.cid, second.cid],
                              StateOptions(messages=Page(limit=3), members_limit=2))

    assert [v.message.text for v in states[first.cid].messages] == ["first 2", "first 3", "first 4"]
    assert [v.message.text for v in states[second.cid].messages] == ["second 0", "second 1"]
    assert [v.message.text for v in states[second.cid].pinned_messages] == ["second 0"]
    assert states[first.cid].pinned_messages == []
    assert [m.user_id for m in states[first.cid].members] == [ann.id, bob.id]
    assert len(states[second.cid].members) == 2
    assert states[second.cid].membership is not None and states[second.cid].membership.user_id == ann.id
    assert {bob.id, cat.id} <= set(states[second.cid].users.by_id)


async def test_a_truncated_channel_shows_only_what_came_after_among_the_queried_channels(
    container: Container,
) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    cut = await make_channel(container, ann, [ann, bob])
    kept = await make_channel(container, ann, [ann, bob])
    await send(container, ann, cut, "before")
    await send(container, ann, kept, "kept")
    async with container.uow() as uow:
        channel, _, member = await channels.access(uow.conn, SERVER, cut.cid, channels.Action.TRUNCATE_CHANNEL)
        await channels.truncate(uow, SERVER, channel, member, hard=False)
    await send(container, bob, cut, "after")

    states = await query_cids(container, Actor(user=ann, server=False), [cut.cid, kept.cid],
                              StateOptions(messages=Page(limit=10)))

    assert [v.message.text for v in states[cut.cid].messages] == ["after"]
    assert [v.message.text for v in states[kept.cid].messages] == ["kept"]


async def test_querying_more_channels_runs_no_more_queries(container: Container) -> None:
    ann, bob = await make_users(container, "ann", "bob")
    made = []
    for i in range(6):
        channel = await make_channel(container, ann, [ann, bob])
        await send(container, bob, channel, f"hello {i}", pinned=i % 2 == 0)
        made.append(channel.cid)
    actor = Actor(user=ann, server=False)
    options = StateOptions(messages=Page(limit=5))

    with counting_queries(container) as two:
        await query_cids(container, actor, made[:2], options)
    with counting_queries(container) as six:
        states = await query_cids(container, actor, made, options)

    assert len(states) == 6
    assert two and len(six) == len(two)
