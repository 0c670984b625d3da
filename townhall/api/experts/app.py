"""The experts surface's ASGI app, mounted at /experts: the Clarity API under /v1 and the OAuth2
provider under /oauth; the public member and organization pages at the top (HTML). Every error is
``{"error", "error_description"}`` JSON (errors.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from townhall.api.common.ratelimit import PREFIX, build_counter
from townhall.api.common.sms import build_sender
from townhall.api.experts import (
    oauth_pages,
    routes_applications,
    routes_calls,
    routes_members,
    routes_messages,
    routes_needs,
    routes_oauth,
    routes_organizations,
    routes_pages,
    routes_search,
)
from townhall.api.experts.errors import ExpertsError, error_response, from_domain
from townhall.api.experts.http import MemberLimits
from townhall.container import Container
from townhall.core.errors import DomainError

log = logging.getLogger(__name__)

# The experts surface's rate-limit counters in Redis, apart from other surfaces'.
EXPERTS_PREFIX = f"{PREFIX}experts:"
API_ROUTERS = [m.router for m in (routes_members, routes_search, routes_calls, routes_needs, routes_organizations,
                                  routes_messages, routes_applications)]
OAUTH_ROUTERS = [oauth_pages.router, routes_oauth.router]
# Without a prefix, after the others: omniauth-clarity's /1/members/current, then the public pages
# (/<screen name>, /organizations/<id>), which never shadow /v1, /oauth, /docs or /openapi.json.
ROOT_ROUTERS = [routes_members.v1_compat_router, routes_pages.router]


def build_experts_app(container: Container) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app.state.sms.close()
            await app.state.member_limits.close()

    app = FastAPI(
        title="townhall experts (Clarity API + OAuth2 provider)",
        description="Clarity API compatible endpoints under /experts/v1; every call takes an `oauth_token` "
                    "parameter or `Authorization: Bearer <token>`, obtained from the OAuth2 provider under "
                    "/experts/oauth (authorization code grant): register an application (`POST /v1/applications` with "
                    "your townhall session, `Authorization: Token <auth_token>`, or `townhall oauth-app create`), send the member to `GET /oauth/authorize?client_id=..."
                    "&response_type=code`, then redeem the code at `POST /oauth/authorize` (Clarity) or "
                    "`POST /oauth/token` (RFC 6749, PKCE).",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.sms = build_sender(container)  # texts the authorization page's sign-in codes
    app.state.member_limits = MemberLimits(container.settings.experts, build_counter(container.settings, EXPERTS_PREFIX))

    @app.exception_handler(oauth_pages.Answer)
    async def _page_answer(_: Request, exc: oauth_pages.Answer) -> Response:
        return exc.response

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

    for router in OAUTH_ROUTERS:
        app.include_router(router, prefix="/oauth")
    for router in API_ROUTERS:
        app.include_router(router, prefix="/v1")
    for router in ROOT_ROUTERS:
        app.include_router(router)
    return app
