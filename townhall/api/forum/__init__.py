"""The forum surface: the habitate community API at /forum/api/v1."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    """Mount the forum surface at /forum (API at /forum/api/v1, OpenAPI at /forum/docs)."""
    from townhall.api.forum.app import build_forum_app

    forum_app = build_forum_app(container)
    app.mount("/forum", forum_app)
    return forum_app
