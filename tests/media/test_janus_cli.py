"""``townhall janus start|stop|status``: the Janus townhall ships, run by PID from the data dir,
and the container's janus backend finding it there."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from tests.conftest import spawn_server, stop_server
from tests.media.conftest import require_janus
from townhall.cli.media import COMMANDS, janus
from townhall.config import MediaSettings, Settings
from townhall.container import Container
from townhall.media.janus import JanusMediaBackend
from townhall.media.janus_server import JanusServer, free_port


def test_the_module_lists_the_janus_command_and_every_subcommand_has_help() -> None:
    assert [command.name for command in COMMANDS] == ["janus"]
    runner = CliRunner()
    for args in ([], ["start"], ["stop"], ["status"]):
        result = runner.invoke(janus, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, result.output
    assert "--loopback-ice" in runner.invoke(janus, ["start", "--help"]).output


async def test_janus_start_status_stop_run_the_shipped_config_by_pid(tmp_path: Path, settings: Settings) -> None:
    require_janus()
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    stopped = runner.invoke(janus, ["status", *data])
    assert stopped.exit_code == 1 and "not running" in stopped.output
    port = free_port()
    started = runner.invoke(janus, ["start", "--port", str(port), "--admin-port", str(free_port()), *data])
    try:
        assert started.exit_code == 0, started.output
        assert f"http://127.0.0.1:{port}/janus" in started.output
        folder = tmp_path / "janus"
        state = json.loads((folder / "janus.json").read_text())
        assert stat.S_IMODE((folder / "janus.json").stat().st_mode) == 0o600
        assert state["admin_key"] in (folder / "janus.plugin.audiobridge.jcfg").read_text()
        assert state["admin_secret"] in (folder / "janus.jcfg").read_text()
        assert f'configs_folder = "{folder.resolve()}"' in (folder / "janus.jcfg").read_text()
        assert httpx.get(f"{state['url']}/info", timeout=5).json()["server-name"] == "townhall-janus"
        status = runner.invoke(janus, ["status", "--json", *data])
        assert status.exit_code == 0 and json.loads(status.output)["running"] is True
        again = runner.invoke(janus, ["start", *data])
        assert again.exit_code == 0 and "already running" in again.output

        # `townhall serve` with TOWNHALL_MEDIA__BACKEND=janus and the same data dir finds it.
        container = Container.build(
            settings.model_copy(update={"data_dir": tmp_path, "media": MediaSettings(backend="janus")})
        )
        assert isinstance(container.media, JanusMediaBackend) and container.media.url == state["url"]
        await container.start()
        try:
            room = await container.media.create_room("from-the-container")
            assert room.backend == "janus"
        finally:
            await container.close()
    finally:
        result = runner.invoke(janus, ["stop", *data])
    assert result.exit_code == 0 and "stopped" in result.output
    assert runner.invoke(janus, ["status", *data]).exit_code == 1
    assert "not running" in runner.invoke(janus, ["stop", *data]).output


def test_janus_start_without_janus_installed_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("townhall.media.janus_server.find_janus_binary", lambda: None)
    monkeypatch.setattr("townhall.media.janus_server.find_library_root", lambda: Path("/usr/lib/x86_64-linux-gnu/janus"))
    result = CliRunner().invoke(janus, ["start", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "janus is not installed" in result.output


async def test_a_real_townhall_serve_with_the_janus_backend_opens_a_session_on_janus(
    janus: JanusServer, settings: Settings, migrated_db_url: str, tmp_path: Path
) -> None:
    state = janus.read_state()

    def sessions() -> list[int]:
        body = {"janus": "list_sessions", "transaction": "t", "admin_secret": state["admin_secret"]}
        return list(httpx.post(state["admin_url"], json=body, timeout=5).json()["sessions"])

    before = set(sessions())
    env = {"TOWNHALL_MEDIA__BACKEND": "janus", "TOWNHALL_MEDIA__JANUS_URL": state["url"],
           "TOWNHALL_MEDIA__JANUS_ADMIN_KEY": state["admin_key"], "TOWNHALL_MEDIA__JANUS_API_SECRET": state["api_secret"]}
    process, _ = spawn_server(tmp_path, migrated_db_url, tmp_path / "server.log", env=env)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not set(sessions()) - before:
            time.sleep(0.1)
        assert set(sessions()) - before, "townhall serve opened no Janus session"
    finally:
        stop_server(process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and set(sessions()) - before:
        time.sleep(0.1)
    assert not set(sessions()) - before, "townhall serve left its Janus session behind"


def test_janus_start_refuses_bad_addresses_and_port_ranges(tmp_path: Path) -> None:
    runner = CliRunner()
    for option, value in (("--ice-ip", "not-an-ip"), ("--ice-interface", 'lo" ; x'), ("--rtp-ports", "many")):
        result = runner.invoke(janus, ["start", option, value, "--data-dir", str(tmp_path)])
        assert result.exit_code == 2 and "Invalid value" in result.output, result.output
    assert not (tmp_path / "janus").exists()
