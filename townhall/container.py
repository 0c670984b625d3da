"""Composition root: builds the database, event bus and credentials for one process.

Tests build their own. Nothing here is global: ``create_app(settings)`` makes one Container.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from townhall.config import Settings
from townhall.core.uow import COMMITTED, UnitOfWork
from townhall.credentials import Credentials, load_or_create_credentials
from townhall.db.database import Database, NotCommitted
from townhall.jobs import outbox
from townhall.media import MediaBackend, NullMediaBackend, create_media_backend
from townhall.realtime.bus import EventBus, create_bus


@dataclass
class Container:
    settings: Settings
    db: Database
    bus: EventBus
    credentials: Credentials
    extras: dict[str, object] = field(default_factory=dict)
    media: MediaBackend = field(default_factory=NullMediaBackend)
    # Called after a commit that wrote outbox rows (the outbox workers of this process wake up).
    outbox_listeners: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url()),
            bus=create_bus(settings.redis_url),
            credentials=(credentials := load_or_create_credentials(settings)),
            media=create_media_backend(settings, credentials.chat_api_secret),
        )

    @asynccontextmanager
    async def uow(self, *, shared: bool = False) -> AsyncIterator[UnitOfWork]:
        """One write transaction; its events that must not be lost are written to the outbox in it,
        just before the commit, and all of them are published once it is committed (rule 5), after
        the process's ``COMMITTED`` listeners (``core/uow.py``) have seen them.

        ``shared``: a short, frequent unit (sending a message) that may share its transaction
        with others running at the same time (``Database.transaction``); it still returns only
        once it is committed."""
        listeners = self.extras.get(COMMITTED, ())
        assert isinstance(listeners, list | tuple)
        try:
            async with self.db.transaction(shared=shared) as conn:
                unit = UnitOfWork(conn)
                yield unit
                written = await outbox.write_events(unit)
        except NotCommitted:  # its sibling units of a failed group commit: what they read is void
            for listener in listeners:
                listener(None)
            raise
        for listener in listeners:
            listener(unit.events)
        for event in unit.events:
            await self.bus.publish(event)
        if written:
            for wake in list(self.outbox_listeners):
                wake()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.read() as conn:
            yield conn

    async def start(self) -> None:
        await self.bus.start()
        await self.media.start()

    async def close(self) -> None:
        await self.media.close()
        await self.bus.close()
        await self.db.dispose()
