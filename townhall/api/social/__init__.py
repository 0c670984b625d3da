"""The social surface: the Clubhouse app API at /social/api."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.applications import Starlette

    from townhall.container import Container


def mount(app: FastAPI, container: Container) -> FastAPI:
    """Mount the social surface at /social (API at /social/api, OpenAPI at /social/docs)."""
    from townhall.api.social.app import build_social_app

    social_app = build_social_app(container)
    app.mount("/social", social_app)
    return social_app


def mount_pubnub(app: FastAPI, container: Container) -> Starlette:
    """Mount the PubNub-compatible gateway of room events at PubNub's own paths at the root
    (``/v2/subscribe/...``, ``/v2/presence/...``, ``/time/0``), so that ``pubnub_origin`` (which
    join_channel answers) is the server's host as every PubNub SDK expects. Must come before
    anything mounted at ``/``."""
    from townhall.api.social.pubnub import PubNubPaths, build_pubnub_app

    pubnub_app = build_pubnub_app(container)
    app.router.routes.append(PubNubPaths(pubnub_app))
    return pubnub_app
