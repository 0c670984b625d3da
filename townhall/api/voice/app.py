"""The voice surface's ASGI app: the Community Voice Chat API (and its private 1:1 voice chats)
in the reference service's error JSON. Every route needs the shared service token."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from townhall.api.voice import routes_community, routes_private
from townhall.api.voice.errors import VoiceError, error, error_response, from_domain
from townhall.container import Container
from townhall.core.errors import DomainError

log = logging.getLogger(__name__)

ROUTERS = [routes_community.router, routes_private.router]


def _allowed(path: str) -> list[str]:
    """Every method some route of this path answers (a 405's ``Allow``)."""
    methods: set[str] = set()
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, Route) and route.methods and route.path_regex.match(path):
                methods |= route.methods
    return sorted(methods)


def build_voice_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="townhall voice (Community Voice Chat API)",
        description="Community Voice Chat compatible API. Every route needs `Authorization: Bearer <service "
                    "token>` (`townhall keys --json` prints it as voice.service_token). Errors are "
                    "`{\"error\": \"<message>\"}`; request bodies that break their schema answer "
                    "`{\"ok\": false, \"message\": \"Invalid JSON body\", \"data\": [<Ajv error>]}`.",
        docs_url="/docs", openapi_url="/openapi.json", redoc_url=None)
    app.state.container = container

    @app.exception_handler(VoiceError)
    async def _voice_error(_: Request, exc: VoiceError) -> Response:
        return error_response(exc)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> Response:
        return error_response(from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        return error_response(error(400, "Invalid request: " + "; ".join(problems[:5])))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            path, root = request.scope.get("path", ""), request.scope.get("root_path", "")
            allowed = _allowed(path[len(root):] if root and path.startswith(root) else path)
            return error_response(VoiceError(405, {"error": "Method Not Allowed"}, {"Allow": ", ".join(allowed)}))
        if exc.status_code == 404:
            return error_response(error(404, "Not Found"))
        return error_response(error(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(error(500, "Internal Server Error"))

    for router in ROUTERS:
        app.include_router(router)
    return app
