"""Acknowledged writes survive a crash: kill -9 the server while messages are being sent, start it
again on the same database, and every message it answered 201 for is there."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import RunTownhall, spawn_server, stop_server
from townhall.config import Settings

SENDERS = 10
SEND_SECONDS = 1.5


async def _send_until_killed(base_url: str, key: str, token: str, cid: str, user: str,
                             acked: list[str]) -> None:
    channel_type, channel_id = cid.split(":")
    headers = {"Authorization": token, "stream-auth-type": "jwt"}
    async with httpx.AsyncClient(base_url=f"{base_url}/chat", headers=headers, timeout=5) as http:
        while True:
            message_id = f"d-{uuid.uuid4().hex}"
            try:
                response = await http.post(
                    f"/channels/{channel_type}/{channel_id}/message", params={"api_key": key},
                    json={"message": {"id": message_id, "text": "durable?"}, "user_id": user})
            except httpx.HTTPError:
                return  # the server is gone
            if response.status_code == 201:
                acked.append(message_id)


async def test_every_acknowledged_message_survives_kill_9(
    tmp_path: Path, settings: Settings, run_townhall: RunTownhall
) -> None:
    data_dir = tmp_path / "crash"
    data_dir.mkdir()
    # SQLite: its own file in data_dir. PostgreSQL: the session's database (a crash harms nothing).
    url = "" if settings.database_url and settings.database_url.startswith("sqlite") else settings.database_url
    database_url = url or f"sqlite+aiosqlite:///{data_dir / 'townhall.db'}"
    log = data_dir / "server.log"
    env = {"TOWNHALL_CHAT__RATE_LIMIT_MULTIPLIER": "0"}
    process, base_url = spawn_server(data_dir, database_url, log, env=env)
    try:
        chat = json.loads(run_townhall("keys", "--json", "--data-dir", str(data_dir)).stdout)["chat"]
        key, secret = chat["api_key"], chat["api_secret"]
        server_token = jwt.encode({"server": True}, secret, algorithm="HS256")
        user, cid = f"crash-{uuid.uuid4().hex[:8]}", f"messaging:crash-{uuid.uuid4().hex[:8]}"
        headers = {"Authorization": server_token, "stream-auth-type": "jwt"}
        async with httpx.AsyncClient(base_url=f"{base_url}/chat", headers=headers, params={"api_key": key}) as http:
            assert (await http.post("/users", json={"users": {user: {"id": user}}})).status_code == 201
            created = await http.post(f"/channels/{cid.replace(':', '/')}/query",
                                      json={"data": {"members": [user], "created_by_id": user}})
            assert created.status_code == 201

        acked: list[str] = []
        senders = [asyncio.create_task(_send_until_killed(base_url, key, server_token, cid, user, acked))
                   for _ in range(SENDERS)]
        await asyncio.sleep(SEND_SECONDS)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        await asyncio.wait_for(asyncio.gather(*senders), 30)
        assert acked, "no message was acknowledged before the crash"
    finally:
        stop_server(process)

    process, base_url = spawn_server(data_dir, database_url, log, env=env)
    try:
        async with httpx.AsyncClient(base_url=f"{base_url}/chat", headers=headers, params={"api_key": key}) as http:
            missing = []
            for start in range(0, len(acked), 100):
                ids = ",".join(acked[start:start + 100])
                found = await http.get(f"/channels/{cid.replace(':', '/')}/messages", params={"ids": ids})
                assert found.status_code == 200, found.text
                stored = {m["id"] for m in found.json()["messages"]}
                missing += [i for i in acked[start:start + 100] if i not in stored]
        assert missing == [], f"{len(missing)} of {len(acked)} acknowledged messages were lost"
    finally:
        stop_server(process)


if not hasattr(signal, "SIGKILL"):  # pragma: no cover - POSIX only
    pytestmark = pytest.mark.skip(reason="needs POSIX signals")
