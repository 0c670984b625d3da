"""townhall served over real HTTP inside a test: what a WebRTC client needs when its credentials
point at townhall itself (the Janus signalling proxy at ``/media/janus``), which an in-process ASGI
transport cannot give it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """``app`` served by uvicorn on ``host:port`` in this event loop (lifespan off: the caller runs it,
    or does without it); yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, loop="none", lifespan="off",
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            server.should_exit = True
            await asyncio.gather(task, return_exceptions=True)
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        await asyncio.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 10)
