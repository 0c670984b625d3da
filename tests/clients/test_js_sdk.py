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
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Server

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


@pytest.mark.node
def test_the_npm_sdk_connects_chats_types_reads_and_recovers_after_a_dropped_socket(server: Server) -> None:
    node = node_or_skip()
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "BASE_URL": server.chat_url,
        "API_KEY": server.api_key,
        "TOKEN_A": server.make_token(f"js-a-{run}"),
        "TOKEN_B": server.make_token(f"js-b-{run}"),
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
