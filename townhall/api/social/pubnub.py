"""The PubNub-compatible subscribe gateway (stub: the PubNub work fills it in)."""

from __future__ import annotations

from fastapi import FastAPI

from townhall.container import Container


def build_pubnub_app(container: Container) -> FastAPI:
    app = FastAPI(title="townhall PubNub gateway", docs_url=None, openapi_url=None, redoc_url=None)
    app.state.container = container
    return app
