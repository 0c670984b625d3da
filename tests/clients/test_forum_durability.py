"""Webhooks never lose an event: kill -9 a real ``townhall serve`` while its worker is delivering,
start it again on the same database, and every post it acknowledged reaches the receiver."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

import httpx

from tests.conftest import RunTownhall, spawn_server, stop_server
from tests.jobs.databases import fresh_database
from tests.jobs.receiver import Receiver

WRITERS = 4
WRITE_SECONDS = 1.5
ENV = {  # short leases and backoff so the test does not wait long for what the killed process held
    "TOWNHALL_FORUM__WORKER_LEASE": "2", "TOWNHALL_FORUM__WEBHOOK_BACKOFF": "0.2",
    "TOWNHALL_FORUM__WEBHOOK_MAX_BACKOFF": "1", "TOWNHALL_FORUM__WORKER_BATCH": "4",
    "TOWNHALL_FORUM__WEBHOOK_TIMEOUT": "1",  # the lease outlasts a delivery (settings check it)
    "TOWNHALL_FORUM__ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",  # the receiver listens on loopback
}


async def _post_until_killed(http: httpx.AsyncClient, board_id: int, author: str, acked: list[int]) -> None:
    while True:
        try:
            response = await http.post("/posts", json={"board_id": board_id, "headline": "durable?",
                                                       "content": f"<p>{uuid.uuid4().hex}</p>", "authors": [author]})
        except httpx.HTTPError:
            return  # the server is gone
        if response.status_code == 200:
            acked.append(response.json()["post_id"])


async def _diagnose(database_url: str, missing: set[int], log: Path) -> str:
    from sqlalchemy import func, select

    from townhall.db.database import Database
    from townhall.jobs.tables import outbox, webhook_subscriptions

    db = Database(database_url)
    try:
        async with db.read() as conn:
            states = (await conn.execute(select(outbox.c.status, outbox.c.attempts, outbox.c.last_error, func.count())
                                         .group_by(outbox.c.status, outbox.c.attempts, outbox.c.last_error))).all()
            subs = (await conn.execute(select(webhook_subscriptions.c.status, webhook_subscriptions.c.failures))).all()
    finally:
        await db.dispose()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    return f"{len(missing)} posts never delivered; outbox {states}; subscriptions {subs}\n{tail}"


def _delivered_posts(receiver: Receiver) -> set[int]:
    return {r.json["entities"]["post"][0]["post_id"] for r in receiver.delivered() if r.json["event"] == "post.created"}


async def test_every_acknowledged_post_is_delivered_after_kill_9(tmp_path: Path, run_townhall: RunTownhall) -> None:
    data_dir = tmp_path / "crash"
    data_dir.mkdir()
    log = data_dir / "server.log"
    async with fresh_database(data_dir, migrate=False) as database_url:
        env = {**ENV, "TOWNHALL_DATABASE_URL": database_url}
        # A slow receiver: deliveries are in flight when the server dies.
        with Receiver(lambda _d, _seen: ("slow", 0.15)) as receiver:
            process, base_url = spawn_server(data_dir, database_url, log, env=env)
            try:
                keys = json.loads(run_townhall("keys", "--json", "--data-dir", str(data_dir), env=env).stdout)
                auth = ("crash-test", keys["forum"]["api_key"])
                async with httpx.AsyncClient(base_url=f"{base_url}/forum/api/v1", auth=auth, timeout=10) as http:
                    sub = await http.post("/webhooks", json={"target_url": receiver.url, "events": ["post.created"]})
                    assert sub.status_code == 200, sub.text
                    author = (await http.post("/users", json={"first_name": "Crash", "email": "crash@example.com"}
                                              )).json()["msid"]
                    board = (await http.post("/boards", json={
                        "board_name": "crash", "is_private": False, "hidden_type": 0, "permission_for": 10,
                        "needs_approval": False})).json()["board_id"]
                    acked: list[int] = []
                    writers = [asyncio.create_task(_post_until_killed(http, board, author, acked))
                               for _ in range(WRITERS)]
                    await asyncio.sleep(WRITE_SECONDS)
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
                    await asyncio.wait_for(asyncio.gather(*writers), 30)
                assert acked, "no post was acknowledged before the crash"
                before_restart = _delivered_posts(receiver)
                assert before_restart < set(acked), "everything was delivered before the crash: nothing was tested"
            finally:
                stop_server(process)

            process, base_url = spawn_server(data_dir, database_url, log, env=env)
            try:
                await asyncio.to_thread(receiver.wait_for, lambda _: set(acked) <= _delivered_posts(receiver), 60)
            except AssertionError:
                raise AssertionError(await _diagnose(database_url, set(acked) - _delivered_posts(receiver), log))
            finally:
                stop_server(process)
        assert set(acked) <= _delivered_posts(receiver)
