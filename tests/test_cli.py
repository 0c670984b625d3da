"""The ``townhall`` command, run as users run it (``python -m townhall`` in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import jwt
import pytest
from click.testing import CliRunner

from townhall.cli import cli
from townhall.db.migrate import head_revision

RunTownhall = Callable[..., subprocess.CompletedProcess[str]]  # the run_townhall fixture


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("path", list(command_paths(cli)), ids=lambda p: " ".join(p) or "townhall")
def test_every_command_explains_itself_with_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="townhall")
    assert result.exit_code == 0, result.output
    usage, _, description = result.output.partition("\n\n")
    assert usage.startswith(f"Usage: {' '.join(('townhall', *path))}")
    assert description.strip()


def test_commands_that_touch_the_data_dir_accept_data_dir() -> None:
    for path in (("serve",), ("db", "upgrade"), ("keys",), ("token",)):
        output = CliRunner().invoke(cli, [*path, "--help"]).output
        assert "--data-dir" in output and "TOWNHALL_DATA_DIR" in output


def test_keys_json_prints_the_same_credentials_on_every_run(
    run_townhall: RunTownhall, tmp_path: Path
) -> None:
    first = json.loads(run_townhall("keys", "--json", "--data-dir", str(tmp_path)).stdout)
    second = json.loads(run_townhall("keys", "--json", "--data-dir", str(tmp_path)).stdout)

    assert first == second
    assert set(first) == {"chat", "social", "voice", "forum"}
    assert set(first["chat"]) == {"api_key", "api_secret"}
    assert set(first["social"]) == {"jwt_secret"}
    assert set(first["forum"]) == {"api_key"}
    assert set(first["voice"]) == {"service_token"}
    assert all(isinstance(v, str) and v for section in first.values() for v in section.values())
    assert (tmp_path / "keys.json").stat().st_mode & 0o077 == 0  # secrets: owner only


def test_keys_differ_between_data_dirs(run_townhall: RunTownhall, tmp_path: Path) -> None:
    one = run_townhall("keys", "--json", "--data-dir", str(tmp_path / "one")).stdout
    two = run_townhall("keys", "--json", "--data-dir", str(tmp_path / "two")).stdout
    assert json.loads(one) != json.loads(two)


def test_token_is_a_user_token_signed_with_the_chat_secret_and_dated(
    run_townhall: RunTownhall, tmp_path: Path
) -> None:
    data_dir = str(tmp_path)
    secret = json.loads(run_townhall("keys", "--json", "--data-dir", data_dir).stdout)["chat"][
        "api_secret"
    ]

    forever = run_townhall("token", "alice", "--data-dir", data_dir).stdout.strip()
    hourly = run_townhall("token", "bob", "--exp", "3600", "--data-dir", data_dir).stdout.strip()

    claims = jwt.decode(forever, secret, algorithms=["HS256"])
    assert set(claims) == {"user_id", "iat"}  # no exp; iat tells it apart once tokens are revoked
    assert claims["user_id"] == "alice"
    assert abs(claims["iat"] - time.time()) < 60
    claims = jwt.decode(hourly, secret, algorithms=["HS256"])
    assert claims["user_id"] == "bob"
    assert abs(claims["exp"] - (time.time() + 3600)) < 60


def test_db_upgrade_twice_leaves_the_database_at_head(
    run_townhall: RunTownhall, database_url: str, tmp_path: Path
) -> None:
    env = {"TOWNHALL_DATABASE_URL": database_url}
    head = head_revision()

    first = run_townhall("db", "upgrade", "--data-dir", str(tmp_path), env=env).stdout
    second = run_townhall("db", "upgrade", "--data-dir", str(tmp_path), env=env).stdout

    assert f"revision {head}" in first or f"to {head}" in first
    assert f"database is up to date (revision {head})" in second
    assert "applied" not in second
