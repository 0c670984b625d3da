"""The experts surface's ASGI app, mounted at /experts: the Clarity API under /v1 and the OAuth2
provider under /oauth. Every error is ``{"error", "error_description"}`` JSON (errors.py)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from townhall.api.experts import (
    routes_calls,
    routes_members,
    routes_messages,
    routes_needs,
    routes_oauth,
    routes_organizations,
    routes_search,
)
from townhall.api.experts.errors import ExpertsError, error_response, from_domain
from townhall.container import Container
from townhall.core.errors import DomainError

log = logging.getLogger(__name__)

API_ROUTERS = [m.router for m in (routes_members, routes_search, routes_calls, routes_needs, routes_organizations,
                                  routes_messages)]


def build_experts_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="townhall experts (Clarity API + OAuth2 provider)",
        description="Clarity API compatible endpoints under /experts/v1; every call takes an `oauth_token` "
                    "parameter or `Authorization: Bearer <token>`, obtained from the OAuth2 provider under "
                    "/experts/oauth (authorization code grant).",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.container = container

    @app.exception_handler(ExpertsError)
    async def _experts_error(_: Request, exc: ExpertsError) -> Response:
        return error_response(exc)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> Response:
        return error_response(from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return error_response(ExpertsError(400, "invalid_request", f"{where}: {first['msg']}".strip(": ")))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "No such endpoint.", 405: "Method not allowed."}.get(exc.status_code, str(exc.detail))
        return error_response(ExpertsError(exc.status_code, "not_found" if exc.status_code == 404 else
                                           "invalid_request", message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ExpertsError(500, "server_error", "A server error occurred."))

    app.include_router(routes_oauth.router, prefix="/oauth")
    for router in API_ROUTERS:
        app.include_router(router, prefix="/v1")
    return app
