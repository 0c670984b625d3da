"""The chat surface: Stream Chat REST + WebSocket at /chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    """Mount the chat surface at /chat (its own OpenAPI at /chat/docs); returns the chat app.

    The mount goes first among the root app's routes: chat is the busiest surface, and matching
    a request against every route before it costs about a tenth of sending a message. No other
    route starts with /chat, so the order changes nothing else."""
    from starlette.routing import Mount

    from townhall.api.chat.app import build_chat_app

    chat_app = build_chat_app(container)
    app.router.routes.insert(0, Mount("/chat", app=chat_app))
    return chat_app
