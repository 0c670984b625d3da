"""The chat surface: Stream Chat REST + WebSocket at /chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    """Mount the chat surface at /chat (its own OpenAPI at /chat/docs); returns the chat app."""
    from townhall.api.chat.app import build_chat_app

    chat_app = build_chat_app(container)
    app.mount("/chat", chat_app)
    return chat_app
