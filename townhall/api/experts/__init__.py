"""The experts surface: the Clarity API at /experts/v1 and its OAuth2 provider at /experts/oauth."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    """Mount the experts surface at /experts (API at /experts/v1, OAuth at /experts/oauth,
    OpenAPI at /experts/docs)."""
    from townhall.api.experts.app import build_experts_app

    experts_app = build_experts_app(container)
    app.mount("/experts", experts_app)
    return experts_app
