"""``townhall worker`` delivers the outbox as processes of their own: a server that does not
deliver, two worker processes, every event delivered, none twice."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ROOT, RunTownhall, spawn_server, stop_server
from tests.jobs.databases import fresh_database
from tests.jobs.receiver import Receiver

EVENTS = 30


async def test_worker_processes_deliver_what_the_server_writes(tmp_path: Path, run_townhall: RunTownhall) -> None:
    async with fresh_database(tmp_path, migrate=False) as database_url:
        env = {"TOWNHALL_DATABASE_URL": database_url, "TOWNHALL_FORUM__WORKER_IN_PROCESS": "false",
               "TOWNHALL_FORUM__WORKER_POLL_INTERVAL": "0.1", "TOWNHALL_FORUM__WORKER_BATCH": "3",
               "TOWNHALL_LOG_FORMAT": "text",
               "TOWNHALL_FORUM__ALLOW_PRIVATE_WEBHOOK_TARGETS": "true"}  # the receiver listens on loopback
        with Receiver(lambda _d, _seen: ("slow", 0.02)) as receiver:
            process, base_url = spawn_server(tmp_path, database_url, tmp_path / "server.log", env=env)
            workers: list[subprocess.Popen[bytes]] = []
            try:
                key = json.loads(run_townhall("keys", "--json", "--data-dir", str(tmp_path), env=env).stdout)
                async with httpx.AsyncClient(base_url=f"{base_url}/forum/api/v1", timeout=10,
                                             auth=("tests", key["forum"]["api_key"])) as http:
                    await http.post("/webhooks", json={"target_url": receiver.url, "events": ["member.joined"]})
                    for i in range(EVENTS):
                        made = await http.post("/users", json={"first_name": f"W{i}", "email": f"w{i}@example.com"})
                        assert made.status_code == 200, made.text
                await asyncio.sleep(0.5)
                assert receiver.delivered() == []  # the server itself delivers nothing
                for n in range(2):
                    log = (tmp_path / f"worker{n}.log").open("w")
                    workers.append(subprocess.Popen(
                        [sys.executable, "-m", "townhall", "worker", "--data-dir", str(tmp_path)], cwd=ROOT,
                        env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT))
                got = await asyncio.to_thread(receiver.wait_for, lambda g: len(g) >= EVENTS, 60)
                await asyncio.sleep(0.5)
            finally:
                for worker in workers:
                    stop_server(worker)
                stop_server(process)
        ids = [r.headers["x-townhall-delivery"] for r in receiver.delivered()]
        assert len(got) >= EVENTS and len(ids) == len(set(ids)) == EVENTS
