"""Endpoints the media server calls (not a client surface): LiveKit's webhooks at /media/livekit/webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    from townhall.api.media.app import build_media_app

    media_app = build_media_app(container)
    app.mount("/media", media_app)
    return media_app
