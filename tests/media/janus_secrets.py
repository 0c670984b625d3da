"""Which api secret each Janus these tests started demands (its own module: conftest.py may be
imported twice, as ``conftest`` by pytest and as ``tests.media.conftest`` by tests, and each copy
would keep its own list).

A test client talking to Janus directly (standing in for townhall itself, or for a client of the old
direct mode) needs the secret; a client of townhall's signalling proxy never has it.
"""

from __future__ import annotations

from townhall.media.janus_server import JanusServer

STARTED: list[JanusServer] = []


def api_secret_of(url: str) -> str | None:
    """The api secret of the Janus at ``url``, if these tests started it."""
    for server in STARTED:
        state = server.read_state()
        if state.get("url") == url.rstrip("/"):
            return state.get("api_secret")
    return None
