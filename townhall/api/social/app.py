"""The social surface's ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from townhall.container import Container


def build_social_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="townhall social (Clubhouse app API)",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.container = container
    return app
