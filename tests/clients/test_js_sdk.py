"""Stream's official npm SDK (``stream-chat``, pinned in js/package.json) drives the WebSocket flow
against a real ``townhall serve``: see js/ws_flow.mjs.

Needs Node.js and ``npm ci`` in tests/clients/js (``./dev test`` runs it). Without them the test
is skipped, or fails when ``TOWNHALL_TEST_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunTownhall, Server, spawn_server, stop_server
from townhall.cli import user_token
from townhall.config import Settings

JS = Path(__file__).resolve().parent / "js"
FLOW_TIMEOUT = 90


def node_or_skip() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (JS / "node_modules" / "stream-chat").is_dir():
        missing = f"npm packages missing: run `npm ci` in {JS}"
    if missing is not None:
        if os.environ.get("TOWNHALL_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{missing} (TOWNHALL_TEST_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(missing)
    assert node is not None
    return node


def _run_flow(chat_url: str, api_key: str, make_token: Callable[[str], str]) -> None:
    node = node_or_skip()
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "BASE_URL": chat_url,
        "API_KEY": api_key,
        "TOKEN_A": make_token(f"js-a-{run}"),
        "TOKEN_B": make_token(f"js-b-{run}"),
        "CHANNEL_ID": f"js-{run}",
    }
    result = subprocess.run([node, "ws_flow.mjs"], cwd=JS, env=env, capture_output=True, text=True,
                            timeout=FLOW_TIMEOUT)
    assert result.returncode == 0, f"ws_flow.mjs exited {result.returncode}:\n{result.stdout}{result.stderr}"
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True
    assert summary["message_new"] == "hello from a"
    assert summary["typing_start"] == summary["message_read"] == f"js-b-{run}"
    assert summary["message_new_after_reconnect"] == "welcome back"
    assert summary["reconnected_connection_id"] != summary["connection_id"]


@pytest.mark.node
def test_the_npm_sdk_connects_chats_types_reads_and_recovers_after_a_dropped_socket(server: Server) -> None:
    _run_flow(server.chat_url, server.api_key, server.make_token)


@pytest.mark.node
def test_the_npm_sdk_flow_works_across_two_worker_processes_sharing_redis(
    tmp_path: Path, settings: Settings, redis_url: str, run_townhall: RunTownhall
) -> None:
    """Each REST call and each socket may land on either worker: events, watches and presence
    have to cross processes through the Redis event bus."""
    node_or_skip()
    database_url = settings.resolved_database_url()
    if database_url.startswith("sqlite"):
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'townhall.db'}"
    process, base_url = spawn_server(tmp_path, database_url, tmp_path / "server.log",
                                     env={"TOWNHALL_WORKERS": "2", "TOWNHALL_REDIS_URL": redis_url})
    try:
        chat = json.loads(run_townhall("keys", "--json", "--data-dir", str(tmp_path)).stdout)["chat"]
        for _ in range(3):  # different connection/worker pairings each time
            _run_flow(f"{base_url}/chat", chat["api_key"], lambda user: user_token(chat["api_secret"], user))
    finally:
        stop_server(process)
