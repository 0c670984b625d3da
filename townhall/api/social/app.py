"""The social surface's ASGI app, mounted at /social: the Clubhouse app API under /api.

Success bodies carry ``"success": true``; app failures are ``{"success": false, "error_message"}``
(HTTP 400 unless said otherwise); authentication failures are DRF's ``{"detail": ...}`` (401/403).
Every response is JSON, 404/405/422/413 included.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from townhall.api.common.sms import build_sender
from townhall.api.social import (
    routes_accounts,
    routes_clubs,
    routes_events,
    routes_graph,
    routes_misc,
    routes_notifications,
    routes_profiles,
    routes_rooms,
    routes_topics,
)
from townhall.api.social.http import NO_PERMISSION, AuthError, SocialError, json_response
from townhall.api.social.media import photo_dir
from townhall.api.social.media import router as media_router
from townhall.container import Container
from townhall.core.errors import DomainError, Forbidden, RateLimited, TooLarge, Unauthenticated

log = logging.getLogger(__name__)

ROUTERS = (routes_accounts.router, routes_profiles.router, routes_graph.router, routes_notifications.router,
           routes_misc.router, routes_clubs.router, routes_topics.router, routes_events.router,
           routes_rooms.router)


def error_status(exc: DomainError) -> int:
    if isinstance(exc, RateLimited):
        return 429
    if isinstance(exc, TooLarge):
        return 413
    return 400


def build_social_app(container: Container) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app.state.sms.close()

    app = FastAPI(
        title="townhall social (Clubhouse app API)",
        description="Clubhouse app API compatible endpoints under /social/api. Sign in with "
                    "start_phone_number_auth / complete_phone_number_auth, then send "
                    "`Authorization: Token <auth_token>` (or `Bearer <access_token>`). Every endpoint "
                    "answers GET and POST; parameters come from the query string or a JSON body.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.sms = build_sender(container)
    app.state.touched = {}
    app.state.photo_dir = photo_dir(container.settings.data_dir)

    @app.exception_handler(SocialError)
    async def _social_error(_: Request, exc: SocialError) -> Response:
        return json_response({"success": False, "error_message": exc.message, **exc.fields}, exc.status)

    @app.exception_handler(AuthError)
    async def _auth_error(_: Request, exc: AuthError) -> Response:
        body = {"detail": exc.detail}
        if exc.code:
            body["code"] = exc.code
        return json_response(body, exc.status)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> Response:
        if isinstance(exc, Unauthenticated):
            return json_response({"detail": exc.message}, 401)
        if isinstance(exc, Forbidden) and exc.code == "banned":
            return json_response({"detail": NO_PERMISSION}, 403)
        return json_response({"success": False, "error_message": exc.message}, error_status(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        return json_response({"success": False, "error_message": f"{where}: {first['msg']}".strip(": ")}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            detail = "Not found."
        elif exc.status_code == 405:
            detail = "Method not allowed."
        else:
            detail = str(exc.detail)
        return json_response({"detail": detail}, exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error in the social surface", exc_info=exc)
        return json_response({"success": False, "error_message": "A server error occurred."}, 500)

    for router in ROUTERS:
        app.include_router(router, prefix="/api")
    app.include_router(media_router)
    app.state.routers = ROUTERS  # what is under /api (tests walk them)
    return app
