"""A real webhook receiver on loopback: records every request, answers as told.

``Receiver(plan)``: ``plan(delivery_id, attempt_seen)`` returns ``"ok"``, ``"fail"`` (HTTP 500) or
``("slow", seconds)`` (answers 200 after sleeping, i.e. a timeout for a short-timeout worker).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Plan = Callable[[str, int], Any]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default (5) resets connections when many deliveries arrive at once
    daemon_threads = True


class Receiver:
    def __init__(self, plan: Plan | None = None) -> None:
        self.plan = plan or (lambda _delivery, _seen: "ok")
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: nothing was delivered
                    return
                delivery = self.headers.get("x-townhall-delivery", "")
                with receiver._lock:
                    seen = receiver._seen.get(delivery, 0)
                    receiver._seen[delivery] = seen + 1
                action = receiver.plan(delivery, seen)
                status = 500 if action == "fail" else 200
                if isinstance(action, tuple) and action[0] == "slow":
                    time.sleep(action[1])
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the worker gave up waiting
                with receiver._lock:
                    receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body, status))

            def log_message(self, *_: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[Received]:
        """Requests answered 200, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.answered == 200]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.delivered()
            if predicate(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"receiver: condition not met in {timeout}s; got {len(self.delivered())} deliveries")
