"""The voice surface: the Community Voice Chat API at /voice."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    """Mount the voice surface at /voice (OpenAPI at /voice/docs)."""
    from townhall.api.voice.app import build_voice_app

    voice_app = build_voice_app(container)
    app.mount("/voice", voice_app)
    return voice_app
