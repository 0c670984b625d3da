"""Sign-in bookkeeping does not grow for ever: finished throttle windows, dead codes and old
console texts are pruned."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from townhall.container import Container
from townhall.core.accounts import signin
from townhall.core.accounts.tables import auth_throttle, phone_codes, sms_messages
from townhall.core.clock import now


async def test_prune_forgets_only_what_is_over(container: Container) -> None:
    stamp = now()
    async with container.uow() as uow:
        await uow.conn.execute(insert(auth_throttle).values(key="test:old", window_start=stamp - timedelta(days=2),
                                                            count=3))
        await uow.conn.execute(insert(auth_throttle).values(key="test:new", window_start=stamp, count=1))
        await uow.conn.execute(insert(phone_codes).values(phone="+10000000001", code_hash="x", failed_attempts=0,
                                                          expires_at=stamp - timedelta(minutes=1), created_at=stamp))
        await uow.conn.execute(insert(sms_messages).values(phone="+10000000001", body="old",
                                                           created_at=stamp - timedelta(days=8)))
        await uow.conn.execute(insert(sms_messages).values(phone="+10000000001", body="new", created_at=stamp))
    async with container.uow() as uow:
        await signin.do_prune(uow)
    async with container.read() as conn:
        keys = set((await conn.execute(select(auth_throttle.c.key).where(auth_throttle.c.key.like("test:%"))))
                   .scalars())
        codes = (await conn.execute(select(phone_codes.c.phone).where(phone_codes.c.phone == "+10000000001"))).all()
        texts = list((await conn.execute(select(sms_messages.c.body).where(
            sms_messages.c.phone == "+10000000001"))).scalars())
    assert keys == {"test:new"} and codes == [] and texts == ["new"]
