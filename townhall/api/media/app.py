"""The media server's callbacks and the Janus signalling proxy (mounted at /media).

``/janus``: the Janus HTTP API relayed for room clients, with their join tickets checked
(townhall.api.media.janus_proxy; errors there are Janus error answers, described in that module).

``POST /livekit/webhook``: LiveKit's webhooks. The body goes, as received, to the livekit backend's
``handle_webhook``, which checks the signature (``Authorization``: a JWT signed with the API secret
carrying the body's SHA-256) and emits the joins and leaves on the backend's event hub, where the
process's live-media runtime (``townhall.jobs.live``) turns them into room presence and call status.

Webhook errors are ``{"error": "<message>"}``: 401 for a missing or bad signature, 400 for a signed body that
is not a LiveKit event, 413 for a body over ``MAX_BODY``, 404 when the media backend is not LiveKit,
503 when LiveKit could not be reached to enforce room state (LiveKit retries the webhook).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from townhall.api.common.body import read_limited
from townhall.api.media import janus_proxy
from townhall.container import Container
from townhall.media import MediaError
from townhall.media.livekit import WebhookMalformed, WebhookRejected

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # LiveKit's events are a few KB


class BodyTooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def build_media_app(container: Container) -> FastAPI:
    app = FastAPI(title="townhall media callbacks", docs_url=None, openapi_url=None, redoc_url=None)
    app.state.container = container

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.post("/livekit/webhook")
    async def livekit_webhook(request: Request) -> JSONResponse:
        handle = getattr(container.media, "handle_webhook", None)
        if handle is None:
            return _error(404, f"LiveKit webhooks are not enabled (the media backend is {container.media.name})")
        try:
            body = await read_limited(request, MAX_BODY, BodyTooLarge())
        except BodyTooLarge:
            return _error(413, f"Webhook body over {MAX_BODY} bytes")
        try:
            await handle(body, request.headers.get("authorization", ""))
        except WebhookRejected as exc:
            return _error(401, exc.message)
        except WebhookMalformed as exc:
            return _error(400, exc.message)
        except MediaError as exc:
            log.warning("LiveKit webhook could not be handled", extra={"error": str(exc)})
            return _error(503, "The media server could not be reached; retry later")
        return JSONResponse({"ok": True})

    janus_proxy.add_routes(app, container)
    return app
