"""The live-media runtime of a process runs the rooms' expiry job periodically."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.clock import now
from townhall.core.rooms import actions
from townhall.core.rooms import service as rooms
from townhall.core.rooms.tables import room_participants
from townhall.jobs.live import live_runtime


async def test_the_expiry_loop_ends_rooms_whose_moderators_are_gone(container: Container) -> None:
    async with container.uow() as uow:
        (ada,) = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=f"exp-{now().timestamp()}",
                                                                            name="ada")])
    room = (await actions.create(container.uow, container.media, ada.id)).room
    async with container.uow() as uow:  # ada stopped pinging ten minutes ago
        await uow.conn.execute(update(room_participants).where(room_participants.c.room_id == room.id).values(
            last_seen_at=now() - timedelta(minutes=10)))
    async with live_runtime(container, tick=0.05):
        for _ in range(100):
            async with container.read() as conn:
                if not (await rooms.get_room(conn, room_id=room.id)).is_live:
                    break
            await asyncio.sleep(0.05)
    async with container.read() as conn:
        assert not (await rooms.get_room(conn, room_id=room.id)).is_live
