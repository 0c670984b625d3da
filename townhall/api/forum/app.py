"""The forum surface's ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from townhall.container import Container


def build_forum_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="townhall forum (habitate community API)",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.container = container
    return app
