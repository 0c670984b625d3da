"""The voice surface's ASGI app (stub: the voice work fills it in)."""

from __future__ import annotations

from fastapi import FastAPI

from townhall.container import Container


def build_voice_app(container: Container) -> FastAPI:
    app = FastAPI(title="townhall voice (Community Voice Chat API)", docs_url="/docs",
                  openapi_url="/openapi.json", redoc_url=None)
    app.state.container = container
    return app
