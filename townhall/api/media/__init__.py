"""Endpoints of the media layer: LiveKit's webhooks at /media/livekit/webhook (the media server calls
them) and the Janus signalling proxy at /media/janus (room clients of a Janus backend use it)."""

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
