"""Fixtures of the job tests: a database of their own (so no serving process's worker takes
their rows), and containers on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.jobs.databases import fresh_database
from townhall.config import ForumSettings, Settings
from townhall.container import Container
from townhall.jobs.tables import webhook_subscriptions

FAST = ForumSettings(worker_in_process=False, worker_poll_interval=0.05, worker_lease=5.0, webhook_timeout=1.0,
                     webhook_backoff=0.05, webhook_max_backoff=0.2, webhook_pause_after=1000)


@pytest.fixture(scope="session")
async def jobs_db_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(tmp_path_factory.mktemp("jobs")) as url:
        yield url


@pytest.fixture
async def make_container(jobs_db_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Container]]:
    """``make_container(**forum_settings)``: a started container on the jobs database."""
    built: list[Container] = []

    async def make(**forum: object) -> Container:
        settings = Settings(data_dir=tmp_path, database_url=jobs_db_url, log_format="text",
                            forum=FAST.model_copy(update=forum))
        container = Container.build(settings)
        await container.start()
        built.append(container)
        return container

    # Each test starts with no live subscription: rows of earlier tests stay undelivered.
    first = await make()
    async with first.uow() as uow:
        await uow.conn.execute(update(webhook_subscriptions).values(status="deleted"))
    yield make  # type: ignore[misc]
    for container in built:
        await container.close()
