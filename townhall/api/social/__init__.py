"""The social surface: the Clubhouse app API at /social/api."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    """Mount the social surface at /social (API at /social/api, OpenAPI at /social/docs)."""
    from townhall.api.social.app import build_social_app

    social_app = build_social_app(container)
    app.mount("/social", social_app)
    return social_app
