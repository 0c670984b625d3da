"""Small factories for chat core tests: unique users and channels on the shared container."""

from __future__ import annotations

import uuid

from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.accounts.models import User
from townhall.core.chat import channels
from townhall.core.chat.models import Channel
from townhall.core.chat.permissions import Actor

SERVER = Actor(user=None, server=True)


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def make_users(container: Container, *names: str) -> list[User]:
    async with container.uow() as uow:
        return await accounts.upsert_chat_users(
            uow, [accounts.UserFields(chat_id=uid(n), name=n) for n in names])


async def make_channel(container: Container, creator: User, members: list[User],
                       type_name: str = "messaging") -> Channel:
    async with container.uow() as uow:
        channel, _ = await channels.get_or_create(
            uow, SERVER, type_name, uid("ch"), {}, member_chat_ids=[m.chat_id for m in members],
            creator_chat_id=creator.chat_id)
    return channel
