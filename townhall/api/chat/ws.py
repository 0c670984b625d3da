"""The Stream Chat WebSocket, ``/chat/connect`` (notes/stream-chat.md, "WebSocket").

Handshake: the user is upserted from ``user_details`` (a partial update, as Stream does), the
token is checked, and the first frame is a ``health.check`` carrying ``connection_id`` and ``me``;
bad credentials get an ``{"error": {...}}`` frame and close code 1000 (the client does not retry).
Then client pings are answered and the hub (``hub.py``) delivers the events.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from townhall.api.chat import errors, render
from townhall.api.chat.errors import AUTH_ERROR, INPUT_ERROR, StreamError
from townhall.api.chat.http import ANONYMOUS, Authenticator
from townhall.api.chat.hub import CLOSE_PERMANENT, ChatHub, Payload, health_check
from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.accounts.models import User
from townhall.core.chat.reads import ChannelUnread, unread_by_channel
from townhall.core.clock import new_id
from townhall.core.errors import DomainError
from townhall.metrics import WEBSOCKETS_OPEN
from townhall.realtime.wsframes import direct_writer

log = logging.getLogger(__name__)

CLOSE_SERVER_ERROR = 1011  # unexpected failure: the client retries

router = APIRouter()


@router.websocket("/connect")
async def connect(websocket: WebSocket) -> None:
    container: Container = websocket.app.state.container
    hub: ChatHub = websocket.app.state.hub
    started = time.perf_counter()
    await websocket.accept()
    try:
        user = await _authenticate(container, websocket.app.state.auth, websocket)
        async with container.read() as conn:
            unread = (await unread_by_channel(conn, [user.id]))[user.id]
    except (StreamError, DomainError) as exc:
        err = exc if isinstance(exc, StreamError) else errors.from_domain(exc)
        await _reject(websocket, err, started)
        return
    except Exception:
        log.exception("chat WebSocket handshake failed")
        await _close(websocket, CLOSE_SERVER_ERROR)
        return

    connection_id = new_id()
    hello = health_check(connection_id, _me(user, unread))
    hub.connect(connection_id, user, websocket, [u.cid for u in unread], hello, direct_writer(websocket.scope))
    WEBSOCKETS_OPEN.labels("chat").inc()
    try:
        await _serve(websocket, hub, connection_id)
    finally:
        WEBSOCKETS_OPEN.labels("chat").dec()
        await hub.disconnect(connection_id)
        if user is not ANONYMOUS:
            await _touch_last_active(container, user)


async def _authenticate(container: Container, auth: Authenticator, websocket: WebSocket) -> User:
    q = websocket.query_params
    params = _json_param(q.get("json"))
    details = params.get("user_details")
    details = details if isinstance(details, dict) else {}
    claimed = params.get("user_id") or details.get("id")
    if claimed is not None and not isinstance(claimed, str):
        raise StreamError(400, INPUT_ERROR, "user_id must be a string")
    token = q.get("authorization") or params.get("user_token") or websocket.headers.get("authorization")
    auth_type = q.get("stream-auth-type") or websocket.headers.get("stream-auth-type")
    if (auth_type or "jwt").lower() != "anonymous" and token and claimed:
        # The user may not exist yet: create or update it first. A token that verifies with the
        # app's secret is enough to allow that; authenticate() then checks everything.
        if auth.claims(token).get("user_id") == claimed:
            await _upsert_user(container, claimed, details)
            auth.users.forget(claimed)
    caller = await auth.authenticate(q.get("api_key"), auth_type, token, claimed)
    if caller.user is None:
        raise StreamError(401, AUTH_ERROR, "JWTAuth error: a WebSocket connection needs a user token")
    return caller.user


def _json_param(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StreamError(400, INPUT_ERROR, f"json parameter is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise StreamError(400, INPUT_ERROR, "json parameter must be a JSON object")
    return data


async def _upsert_user(container: Container, chat_id: str, details: dict[str, Any]) -> None:
    """Stream's connect-time upsert (partial). Clients never pick their own role."""
    fields = accounts.UserFields.from_dict({**{k: v for k, v in details.items() if k != "role"}, "id": chat_id})
    async with container.read() as conn:
        existing = (await accounts.get_users_by_chat_id(conn, [chat_id])).get(chat_id)
    if existing is not None and (not existing.is_active or _unchanged(existing, fields)):
        return  # nothing to write (most reconnects)
    async with container.uow() as uow:
        await accounts.upsert_chat_users(uow, [fields], replace=False)


def _unchanged(user: User, fields: accounts.UserFields) -> bool:
    for name in accounts.COLUMN_FIELDS:
        value = getattr(fields, name)
        if value is not None and value != getattr(user, name):
            return False
    return all(k in user.custom and user.custom[k] == v for k, v in fields.custom.items())


def _me(user: User, unread: list[ChannelUnread]) -> Payload:
    total = sum(u.unread for u in unread)
    me = render.user(user, lambda _: True)
    assert me is not None
    return {**me, "devices": [], "mutes": [], "channel_mutes": [], "blocked_user_ids": [],
            "unread_count": total, "total_unread_count": total,
            "unread_channels": sum(1 for u in unread if u.unread > 0),
            "unread_threads": 0, "total_unread_threads_count": 0}


async def _serve(websocket: WebSocket, hub: ChatHub, connection_id: str) -> None:
    """Answer the client's health checks until it goes; other frames are ignored."""
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text") or message.get("bytes")
        if raw and _is_health_check(raw):
            hub.send(connection_id, health_check(connection_id))


def _is_health_check(raw: str | bytes) -> bool:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    frames = data if isinstance(data, list) else [data]
    return any(isinstance(f, dict) and f.get("type") == "health.check" for f in frames)


async def _reject(websocket: WebSocket, err: StreamError, started: float) -> None:
    duration = f"{(time.perf_counter() - started) * 1000:.2f}ms"
    try:
        await websocket.send_text(orjson.dumps({"error": errors.body(err, duration)}).decode())
    except Exception as exc:  # the client already left
        log.debug("could not send the WebSocket error frame: %r", exc)
    await _close(websocket, CLOSE_PERMANENT)


async def _close(websocket: WebSocket, code: int) -> None:
    try:
        await websocket.close(code)
    except Exception as exc:  # already closed
        log.debug("WebSocket close failed: %r", exc)


async def _touch_last_active(container: Container, user: User) -> None:
    try:
        async with container.uow() as uow:
            await accounts.touch_last_active(uow, user.id)
    except Exception as exc:  # e.g. the server is shutting down and the database is gone
        log.warning("could not update last_active of user %s: %r", user.chat_id, exc)
