"""Shared helper of the benchmarks: a real ``townhall serve`` process on 127.0.0.1.

``running_server()`` starts ``python -m townhall serve`` from this checkout on a free port with a
fresh data directory (rate limiting off, warning-level logs), waits for ``/healthz``, reads the chat
credentials with ``python -m townhall keys --json`` and stops the server (and everything it started)
on exit. With ``workers > 1`` it also starts a private ``redis-server`` on a free port so that live
events cross the worker processes without touching anybody else's Redis. With a PostgreSQL URL it
creates that database fresh and drops it afterwards.

Everything here talks to 127.0.0.1 only and is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def log(message: str) -> None:
    """Progress goes to stderr: stdout carries only the benchmark's one JSON line."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_token(api_secret: str) -> str:
    """A Stream Chat server token: HS256 JWT ``{"server": true}``."""
    return jwt.encode({"server": True}, api_secret, algorithm="HS256")


def user_token(api_secret: str, user_id: str) -> str:
    """A Stream Chat user token: HS256 JWT ``{"user_id": ...}``."""
    return jwt.encode({"user_id": user_id}, api_secret, algorithm="HS256")


@dataclass
class Server:
    """A running server: where it listens, its chat credentials and its processes."""

    port: int
    data_dir: Path
    api_key: str
    api_secret: str
    workers: int
    database: str  # "sqlite" | "postgresql"
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def server_token(self) -> str:
        return server_token(self.api_secret)

    def user_token(self, user_id: str) -> str:
        return user_token(self.api_secret, user_id)

    def server_headers(self) -> dict[str, str]:
        return {"Authorization": self.server_token(), "stream-auth-type": "jwt"}

    def pids(self) -> list[int]:
        """The server's process ids: the main process first, then its children (workers)."""
        pids = [self.process.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
            pids.extend(int(pid) for pid in children.split())
        return pids

    def serving_pids(self) -> list[int]:
        """The processes that run the app: the workers with --workers > 1, else the main one."""
        pids = self.pids()
        return pids[1:] if self.workers > 1 and len(pids) > 1 else pids[:1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by these processes (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def machine_cpu_seconds() -> float:
    """CPU time all processes of the machine have used so far, every core (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet_machine(max_wait_s: float, busy_limit: float = 0.3) -> float:
    """Wait (at most ``max_wait_s``) until the machine's other work uses under ``busy_limit`` of a
    core over a 2 s window; the server is not running yet, so that is all someone else's load.
    Returns the last measured load in cores; warns when it is still high."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before = machine_cpu_seconds()
        time.sleep(2)
        busy = (machine_cpu_seconds() - before) / 2
        if busy < busy_limit:
            return busy
        if time.monotonic() >= deadline:
            log(f"the machine is busy ({busy:.2f} cores used by other work): figures will be noisy")
            return busy
        log(f"waiting for a quiet machine ({busy:.2f} cores busy)")


def start_profiler(server: Server, output: Path, seconds: float) -> subprocess.Popen[bytes]:
    """``py-spy record`` of the server and its workers for ``seconds``, collapsed stacks (one
    ``frame;frame;... count`` line per stack) written to ``output``. Wait on the returned process."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("--py-spy needs py-spy: pip install py-spy")
    command = [
        py_spy, "record", "--format", "raw", "--rate", "100", "--nonblocking", "--subprocesses",
        "--duration", str(max(1, round(seconds))), "--output", str(output),
        "--pid", str(server.process.pid),
    ]  # fmt: skip
    log(f"profiling the server for {seconds:.0f} s into {output}")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{_tail(log_file)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {STARTUP_TIMEOUT_S:.0f} s:\n{_tail(log_file)}")


def _tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn and its workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A throwaway redis-server (no persistence) on a free port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "--workers > 1 needs redis-server for the event bus: apt-get install -y redis-server"
        )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://{HOST}:{port}/0"
    finally:
        _stop(process)


def _postgres_dsn(url: str, database: str) -> str:
    """asyncpg's DSN for ``url`` (a SQLAlchemy ``postgresql+asyncpg://`` URL) on ``database``."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, f"/{database}", "", ""))


async def _admin(url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]  # the server's driver, installed with townhall

    connection = await asyncpg.connect(_postgres_dsn(url, "postgres"), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def fresh_postgres_database(url: str) -> Iterator[str]:
    """Create the database named in ``url`` (one named ``townhall_bench_<random>`` when the URL names
    none); it must not exist yet. Yields the URL of the new database and drops it afterwards."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        raise SystemExit(f"--database-url must be postgresql+asyncpg://..., not {url!r}")
    name = parts.path.lstrip("/") or f"townhall_bench_{secrets.token_hex(4)}"
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"database name {name!r}: use letters, digits and underscores")
    full_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))  # fails if it exists: never reuse one
    log(f"created PostgreSQL database {name}")
    try:
        yield full_url
    finally:
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        log(f"dropped PostgreSQL database {name}")


def _read_keys(data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "townhall", "keys", "--json", "--data-dir", str(data_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    keys: dict[str, Any] = json.loads(result.stdout)
    return keys


@contextlib.contextmanager
def running_server(workers: int = 1, database_url: str | None = None) -> Iterator[Server]:
    """Start ``python -m townhall serve`` on a free port with a fresh data dir; stop it on exit."""
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="townhall-bench-")))
        env = {
            **os.environ,
            "TOWNHALL_CHAT__RATE_LIMIT_MULTIPLIER": "0",  # the benchmark measures the server
            "TOWNHALL_LOG_LEVEL": "warning",
        }
        for name in ("TOWNHALL_DATABASE_URL", "TOWNHALL_REDIS_URL", "TOWNHALL_DATA_DIR"):
            env.pop(name, None)
        if database_url:
            env["TOWNHALL_DATABASE_URL"] = stack.enter_context(fresh_postgres_database(database_url))
        if workers > 1:
            env["TOWNHALL_REDIS_URL"] = stack.enter_context(private_redis())
        port = free_port()
        log_file = data_dir / "server.log"
        command = [
            sys.executable, "-m", "townhall", "serve",
            "--host", HOST, "--port", str(port), "--data-dir", str(data_dir),
            "--workers", str(workers),
        ]  # fmt: skip
        with log_file.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops the workers
            )
        stack.callback(_stop, process)
        _wait_healthy(f"http://{HOST}:{port}", process, log_file)
        chat = _read_keys(data_dir, env)["chat"]
        server = Server(
            port=port,
            data_dir=data_dir,
            api_key=chat["api_key"],
            api_secret=chat["api_secret"],
            workers=workers,
            database="postgresql" if database_url else "sqlite",
            process=process,
        )
        log(f"server up on {server.base_url} ({server.database}, {workers} worker(s))")
        try:
            yield server
        except BaseException:
            log(f"the run failed; server log (tail):\n{_tail(log_file)}")
            raise
