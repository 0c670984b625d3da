"""The chat surface: Stream Chat REST + WebSocket at /chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> None:
    """Mount the chat surface at /chat (its own OpenAPI at /chat/docs)."""
    from townhall.api.chat.app import build_chat_app

    app.mount("/chat", build_chat_app(container))
