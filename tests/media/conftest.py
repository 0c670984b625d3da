"""Fixtures of the media tests: a real Janus started from the configuration townhall ships.

Janus (the Debian package ``janus``) missing skips these tests, or fails them when
``TOWNHALL_TEST_REQUIRE_SERVICES=1`` (CI installs it in ``.ci/run``).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_unavailable
from tests.media.janus_secrets import STARTED
from townhall.media.janus import JanusMediaBackend
from townhall.media.janus_server import JanusServer, JanusServerError, find_janus_binary, find_library_root, free_port

StartJanus = Callable[..., JanusServer]


def require_janus() -> None:
    if find_janus_binary() is None or find_library_root() is None:
        service_unavailable("Janus is not installed (apt-get install janus)")


@pytest.fixture(scope="session")
def start_janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartJanus]:
    """``start_janus()``: a new Janus in its own folder on free ports, stopped at the session's end."""
    require_janus()
    started: list[JanusServer] = []

    def start(folder: Path | None = None, **options: object) -> JanusServer:
        server = JanusServer(folder or tmp_path_factory.mktemp("janus"))
        options.setdefault("http_port", free_port())
        options.setdefault("admin_port", free_port())
        try:
            server.start(loopback_ice=True, **options)  # type: ignore[arg-type]
        except JanusServerError as exc:
            pytest.fail(f"could not start Janus: {exc}", pytrace=False)
        started.append(server)
        STARTED.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def janus(start_janus: StartJanus) -> JanusServer:
    """One Janus for the session's media tests (never stop it in a test: use start_janus)."""
    return start_janus()


def make_backend(server: JanusServer, secret: str = "test-media-secret", **options: Any) -> JanusMediaBackend:
    state = server.read_state()
    options.setdefault("api_secret", state["api_secret"])
    return JanusMediaBackend(state["url"], admin_key=state["admin_key"], secret=secret, timeout=5.0,
                             retry_interval=0.1, **options)


@pytest.fixture
async def backend(janus: JanusServer) -> AsyncIterator[JanusMediaBackend]:
    built = make_backend(janus)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def room_id() -> str:
    return f"room-{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    for tool in ("sox", "espeak-ng"):
        if shutil.which(tool) is None:
            service_unavailable(f"{tool} is not installed (apt-get install espeak-ng sox)")
    try:
        import aiortc  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as exc:
        service_unavailable(f"the audio tests need aiortc and numpy ({exc})")
    folder = tmp_path_factory.mktemp("sounds")
    speech, tone = folder / "speech.wav", folder / "tone.wav"
    subprocess.run(["espeak-ng", "-w", str(speech), "hello town hall, can everybody hear me"], check=True, timeout=60)
    subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", str(tone), "synth", "3", "sine", "440", "vol", "0.5"],
                   check=True, timeout=60)
    return {"speech": str(speech), "tone": str(tone)}
