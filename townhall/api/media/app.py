"""The media server's callbacks (stub: the media work fills it in)."""

from __future__ import annotations

from fastapi import FastAPI

from townhall.container import Container


def build_media_app(container: Container) -> FastAPI:
    app = FastAPI(title="townhall media callbacks", docs_url=None, openapi_url=None, redoc_url=None)
    app.state.container = container
    return app
