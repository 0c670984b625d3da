"""Composition root: builds the database, event bus and credentials for one process.

Tests build their own. Nothing here is global: ``create_app(settings)`` makes one Container.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from townhall.config import Settings
from townhall.core.uow import UnitOfWork
from townhall.credentials import Credentials, load_or_create_credentials
from townhall.db.database import Database
from townhall.realtime.bus import EventBus, create_bus


@dataclass
class Container:
    settings: Settings
    db: Database
    bus: EventBus
    credentials: Credentials
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url()),
            bus=create_bus(settings.redis_url),
            credentials=load_or_create_credentials(settings),
        )

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[UnitOfWork]:
        """One write transaction; its events are published once it is committed (rule 5)."""
        async with self.db.transaction() as conn:
            unit = UnitOfWork(conn)
            yield unit
        for event in unit.events:
            await self.bus.publish(event)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.read() as conn:
            yield conn

    async def start(self) -> None:
        await self.bus.start()

    async def close(self) -> None:
        await self.bus.close()
        await self.db.dispose()
