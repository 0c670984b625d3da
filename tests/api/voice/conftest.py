"""Fixtures of the voice surface tests: an HTTP client carrying the service token, fresh addresses
and community ids, and moving a participant's clock back (``age``) the way time passing would."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from townhall.container import Container
from townhall.core.rooms import voice
from townhall.core.rooms.models import COMMUNITY
from townhall.core.rooms.tables import room_participants, rooms

API = "/voice"


def new_address() -> str:
    """A fresh Ethereum address, in mixed case as wallets write them."""
    raw = secrets.token_hex(20)
    return "0x" + "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(raw))


def new_community() -> str:
    return f"community-{uuid.uuid4()}"


@pytest.fixture
async def voice_http(app: FastAPI, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {container.credentials.voice_service_token}"}
    async with httpx.AsyncClient(transport=transport, base_url=f"http://townhall.test{API}",
                                 headers=headers) as http:
        yield http


async def enter(http: httpx.AsyncClient, community_id: str, address: str, *, action: str = "join",
                role: str | None = None, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"community_id": community_id, "user_address": address, "action": action, **extra}
    if role is not None:
        body["user_role"] = role
    return await http.post("/community-voice-chat", json=body)


async def status(http: httpx.AsyncClient, community_id: str) -> dict[str, Any]:
    answer = await http.get(f"/community-voice-chat/{community_id}/status")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def live_code(container: Container, community_id: str, kind: str = COMMUNITY) -> str:
    async with container.read() as conn:
        room = await voice.live_room(conn, kind, community_id)
    assert room is not None
    return room.code


async def user_id_of(container: Container, address: str) -> int:
    async with container.read() as conn:
        return (await voice.users_of_addresses(conn, [address]))[address.lower()]


async def age(container: Container, community_id: str, address: str, by: timedelta,
              kind: str = COMMUNITY) -> None:
    """As if the participant's last status change happened ``by`` earlier."""
    user_id = await user_id_of(container, address)
    async with container.uow() as uow:
        room_id = (await uow.conn.execute(select(rooms.c.id).where(
            rooms.c.kind == kind, rooms.c.external_id == community_id, rooms.c.ended_at.is_(None)))).scalar_one()
        p = room_participants
        last = (await uow.conn.execute(select(p.c.last_seen_at).where(
            p.c.room_id == room_id, p.c.user_id == user_id))).scalar_one()
        await uow.conn.execute(update(p).where(p.c.room_id == room_id, p.c.user_id == user_id).values(
            last_seen_at=last - by))
