"""The lean request path: chat's REST routes served without FastAPI's per-request machinery.

Every chat endpoint takes the request and string path parameters and does its own parsing
(``http.py``), so FastAPI's routing, dependency injection and parameter validation add nothing but
cost (about a fifth of a sent message's CPU time). ``LeanRoutes`` is a pure ASGI middleware inside
the chat app: it matches a request against the same routes in the same order, runs the routers'
dependency (``authenticate``) and the endpoint itself, and renders errors with the same handlers.
A request whose first matching route is not a plain chat endpoint (docs, anything else) goes on to
FastAPI unchanged. ``ChatSettings.lean_http = False`` turns it off (to compare).

The root app runs a second instance in front of everything (``front_door``): a chat request under
``/chat`` is served before the root app's middleware, its router and the chat app's own stack,
with the scope the mount would have given it, and counted by the request metrics as it would have
been. Every other request goes to the root app untouched.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

Endpoint = Callable[..., Awaitable[Response]]
ErrorRenderer = Callable[[Request, Exception], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Candidate:
    methods: frozenset[str]
    path_regex: re.Pattern[str]
    route: BaseRoute
    lean: bool  # a plain chat endpoint: (request, str path parameters), served here


def _is_plain(route: APIRoute) -> bool:
    """An endpoint FastAPI only hands the request and string path parameters to."""
    params = inspect.signature(route.endpoint).parameters
    if "request" not in params:
        return False
    others = [p for name, p in params.items() if name != "request"]
    return all(p.name in route.param_convertors and p.annotation in (str, "str") for p in others) and all(
        type(c).__name__ == "StringConvertor" for c in route.param_convertors.values())


class LeanRoutes:
    """Serves the plain routes of ``routers`` (in order, after the app's own ``routes``) directly.

    ``dependency`` is what the routers depend on (authentication and rate limiting); ``on_error``
    renders an exception as the app's exception handlers would.
    """

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute], routers: Sequence[APIRouter],
                 dependency: Callable[[Request], Awaitable[Any]], on_error: ErrorRenderer,
                 enabled: bool = True) -> None:
        self.app = app
        self.dependency = dependency
        self.on_error = on_error
        self.enabled = enabled
        self._candidates: dict[str, list[_Candidate]] = {}
        ordered: list[tuple[BaseRoute, bool]] = [(r, False) for r in routes if isinstance(r, Route)]
        ordered += [(r, _is_plain(r)) for router in routers for r in router.routes if isinstance(r, APIRoute)]
        for route, lean in ordered:
            methods = frozenset(getattr(route, "methods", None) or ())
            candidate = _Candidate(methods, route.path_regex, route, lean)  # type: ignore[attr-defined]
            for method in methods:
                self._candidates.setdefault(method, []).append(candidate)

    def _match(self, scope: Scope, path: str | None = None) -> tuple[APIRoute, dict[str, Any]] | None:
        if path is None:
            path = get_route_path(scope)
        for candidate in self._candidates.get(scope["method"], ()):
            found = candidate.path_regex.match(path)
            if found is not None:
                if not candidate.lean:
                    return None
                route = candidate.route
                assert isinstance(route, APIRoute)
                return route, {k: route.param_convertors[k].convert(v) for k, v in found.groupdict().items()}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._match(scope) if self.enabled and scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        await self._serve(scope, receive, send, *matched)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, route: APIRoute,
                     path_params: dict[str, Any]) -> None:
        scope["route"] = route
        scope["path_params"] = path_params
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive, send)
        try:
            await self.dependency(request)
            response = await route.endpoint(request, **path_params)
        except Exception as exc:  # rendered as the app's handlers render it
            response = await self.on_error(request, exc)
        await response(scope, receive, send)


class _FrontDoor:
    """``LeanRoutes`` of a mounted app, in front of the root app (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, lean: LeanRoutes, prefix: str, mounted: ASGIApp,
                 measure: Callable[[ASGIApp, Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.lean = lean
        self.prefix = prefix
        self.mounted = mounted
        self.measure = measure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            prefix = self.prefix
            if path.startswith(prefix) and path[len(prefix):len(prefix) + 1] == "/":
                matched = self.lean._match(scope, path[len(prefix):])
                if matched is not None:
                    # What the mount and the mounted app would have put in the scope.
                    scope.update(app=self.mounted, router=self.mounted.router, root_path=prefix,
                                 app_root_path="", endpoint=self.mounted)

                    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
                        await self._serve(scope, receive, send, matched)

                    await self.measure(serve, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send,
                     matched: tuple[APIRoute, dict[str, Any]]) -> None:
        """``LeanRoutes._serve``, and what the mounted app's error middleware would do about an
        exception it lets through (rendering the error fails, the response cannot be sent): the
        app's error response while none has started, else the server's."""
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.lean._serve(scope, receive, tracked, *matched)
        except Exception as exc:
            if started:
                raise
            response = await self.lean.on_error(Request(scope, receive), exc)  # it logs the error
            await response(scope, receive, send)


def front_door(app: ASGIApp, *, prefix: str, mounted: Any,
               measure: Callable[[ASGIApp, Scope, Receive, Send], Awaitable[None]]) -> ASGIApp:
    """Put ``mounted``'s lean routes (it is mounted at ``prefix``) in front of ``app``, the root
    app's middleware stack; ``measure`` records a request served there in the request metrics."""
    options = mounted.state.lean_options
    return _FrontDoor(app, lean=LeanRoutes(app, **options), prefix=prefix, mounted=mounted, measure=measure)
