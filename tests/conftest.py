"""Fixtures for the whole suite.

Database backend: SQLite in a temporary directory, or, when ``TOWNHALL_TEST_DATABASE_URL`` names
a PostgreSQL server (``postgresql+asyncpg://postgres@127.0.0.1:5432/test``), a fresh database
``townhall_test_<random>`` created on it for the session and dropped at its end.

Services (PostgreSQL, Redis) that are unreachable skip the tests needing them, or fail them when
``TOWNHALL_TEST_REQUIRE_SERVICES=1`` (CI). ``TOWNHALL_*`` variables other than
``TOWNHALL_TEST_*`` are removed from the environment so a developer's settings never leak in.

Session fixtures (shared: never mutate them, copy with ``settings.model_copy(update=...)``):
``database_url``, ``settings``, ``migrated_db_url``, ``container`` (started), ``app`` (its
lifespan entered, on ``container``), ``server`` (a real ``townhall serve`` process).
Function fixtures: ``client`` (httpx.AsyncClient on ``app``), ``run_townhall`` (the CLI).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from townhall.app import create_app
from townhall.cli import user_token
from townhall.config import Settings
from townhall.container import Container
from townhall.db.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("TOWNHALL_TEST_REQUIRE_SERVICES") == "1"
SERVER_START_TIMEOUT = 60.0


def pytest_configure(config: pytest.Config) -> None:
    for name in [n for n in os.environ if n.startswith("TOWNHALL_")]:
        if not name.startswith("TOWNHALL_TEST_"):
            del os.environ[name]


def service_unavailable(reason: str) -> NoReturn:
    """Skip the test needing a service, or fail it when the services are required (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (TOWNHALL_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


# -- database


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    server_url = os.environ.get("TOWNHALL_TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'townhall.db'}"
        return
    url = make_url(server_url)
    if url.get_backend_name() != "postgresql":
        pytest.fail(f"TOWNHALL_TEST_DATABASE_URL must be postgresql+asyncpg://..., not {url}")
    name = f"townhall_test_{secrets.token_hex(4)}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except (OSError, SQLAlchemyError) as exc:
        await admin.dispose()
        service_unavailable(f"PostgreSQL not usable at {url}: {exc}")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"), database_url=database_url, log_format="text"
    )


@pytest.fixture(scope="session")
async def migrated_db_url(settings: Settings) -> str:
    url = settings.resolved_database_url()
    await upgrade(url)
    return url


@pytest.fixture(scope="session")
async def container(settings: Settings, migrated_db_url: str) -> AsyncIterator[Container]:
    built = Container.build(settings)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture(scope="session")
async def app(settings: Settings, container: Container) -> AsyncIterator[FastAPI]:
    """The whole application on the shared container, with every surface's startup done."""
    application = create_app(settings, container)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://townhall.test") as http:
        yield http


# -- services


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis: TOWNHALL_TEST_REDIS_URL, default redis://127.0.0.1:6379/15."""
    import redis

    url = os.environ.get("TOWNHALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except (redis.RedisError, OSError) as exc:
        service_unavailable(f"Redis not reachable at {url} ({exc}); set TOWNHALL_TEST_REDIS_URL")
    return url


# -- the real server and the CLI

RunTownhall = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def run_townhall() -> RunTownhall:
    """``run_townhall("keys", "--json", env={...})``: the CLI in a subprocess; raises on failure."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "townhall", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            pytest.fail(
                f"townhall {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}",
                pytrace=False,
            )
        return result

    return run


@dataclass(frozen=True)
class Server:
    base_url: str
    chat_url: str
    api_key: str
    api_secret: str
    data_dir: Path
    log_path: Path

    def make_token(self, user_id: str, expires_in: int | None = None) -> str:
        """A chat user token for ``user_id`` signed with this server's secret."""
        return user_token(self.api_secret, user_id, expires_in)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 80) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def spawn_server(data_dir: Path, database_url: str, log_path: Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m townhall serve`` and wait until it is healthy: (process, base URL)."""
    port = port or _free_port()
    base_url = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "TOWNHALL_DATABASE_URL": database_url,
        "TOWNHALL_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "townhall", "serve", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, base_url, log_path)
    except BaseException:
        stop_server(process)
        raise
    return process, base_url


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def server(
    request: pytest.FixtureRequest, settings: Settings, run_townhall: RunTownhall
) -> Iterator[Server]:
    """A real ``python -m townhall serve`` on a free port, on the session's database and data dir.

    Its output goes to ``server.log_path``; the tail is printed if the session had failures.
    """
    log_path = settings.data_dir / "server.log"
    # It shares the session's database with the in-process apps of the forum tests, whose outbox
    # rows their own worker delivers (to loopback receivers, which this server would refuse): it runs
    # no outbox worker, or it would claim some of those rows and fail them.
    process, base_url = spawn_server(settings.data_dir, settings.resolved_database_url(), log_path,
                                     env={"TOWNHALL_FORUM__WORKER_IN_PROCESS": "false"})
    try:
        keys = run_townhall("keys", "--json", "--data-dir", str(settings.data_dir)).stdout
        chat = json.loads(keys)["chat"]
        yield Server(
            base_url=base_url,
            chat_url=f"{base_url}/chat",
            api_key=chat["api_key"],
            api_secret=chat["api_secret"],
            data_dir=settings.data_dir,
            log_path=log_path,
        )
    finally:
        stop_server(process)
        if request.session.testsfailed:
            capture = request.config.pluginmanager.getplugin("capturemanager")
            with capture.global_and_fixture_disabled():
                print(f"\n--- tail of the townhall server log ({log_path}) ---\n{_tail(log_path)}")


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"townhall serve exited with {process.returncode}:\n{_tail(log_path)}",
                pytrace=False,
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"townhall serve not healthy after {SERVER_START_TIMEOUT}s:\n{_tail(log_path)}",
        pytrace=False,
    )
