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


def mount_pubnub(app: FastAPI, container: Container) -> FastAPI:
    """Mount the PubNub-compatible subscribe gateway of the social surface's room events
    (``join_channel`` answers its origin as ``pubnub_origin``)."""
    from townhall.api.social.pubnub import build_pubnub_app

    pubnub_app = build_pubnub_app(container)
    app.mount("/pubnub", pubnub_app)
    return pubnub_app
