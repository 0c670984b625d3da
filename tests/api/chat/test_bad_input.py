"""Bad input never ends in a 500: every chat endpoint answers malformed requests with Stream's
error JSON (code, message, StatusCode, duration)."""

from __future__ import annotations

import re
import uuid

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from townhall.container import Container

BAD_BODIES: list[object] = [
    b"{not json", b"[1, 2]", b'"text"', {"message": "x"}, {"users": []}, {"user_id": 5},
    {"limit": "abc", "offset": -1}, {"filter_conditions": 5, "sort": "x"},
    {"data": [], "add_members": "u", "message": {"text": 7}},
    {"set": [], "unset": "x"}, {"reaction": {"type": 5, "score": "high"}},
    {"event": {"type": 3}}, {"user_ids": "x", "cids": [1]}, {"message": {"text": "x" * 100_000}},
]
PATH_VALUES = {"type_name": "messaging", "channel_id": "nope!", "message_id": "nope", "user_id": "nobody",
               "parent_id": "nope", "kind": "like", "name": "nope", "task_id": "nope"}


def _routes(app: FastAPI, values: dict[str, str]) -> list[tuple[str, str]]:
    chat = next(r.app for r in app.routes if getattr(r, "path", "") == "/chat")
    found = []
    for router in chat.state.routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                path = re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "x"), route.path)
                found += [(method, path) for method in route.methods]
    return found


async def _existing_things(client: httpx.AsyncClient, key: str, token: str) -> dict[str, str]:
    """A user, a channel of theirs and a message in it, so that requests reach the deep checks."""
    user, channel = f"bad-{uuid.uuid4().hex[:8]}", f"bad-{uuid.uuid4().hex[:8]}"
    http = {"params": {"api_key": key}, "headers": {"Authorization": token, "stream-auth-type": "jwt"}}
    await client.post("/chat/users", json={"users": {user: {"id": user}}}, **http)
    await client.post(f"/chat/channels/messaging/{channel}/query",
                      json={"data": {"members": [user], "created_by_id": user}}, **http)
    sent = await client.post(f"/chat/channels/messaging/{channel}/message",
                             json={"message": {"text": "hi"}, "user_id": user}, **http)
    message = sent.json()["message"]["id"]
    return {**PATH_VALUES, "channel_id": channel, "user_id": user, "message_id": message, "parent_id": message}


@pytest.mark.parametrize("auth", ["server", "server-existing", "user", "member", "none"])
async def test_no_endpoint_answers_malformed_requests_with_a_server_error(
    app: FastAPI, container: Container, client: httpx.AsyncClient, auth: str
) -> None:
    secret, key = container.credentials.chat_api_secret, container.credentials.chat_api_key
    server_token = jwt.encode({"server": True}, secret, algorithm="HS256")
    headers = {"stream-auth-type": "jwt"}
    values = PATH_VALUES
    if auth in ("server-existing", "member"):
        values = await _existing_things(client, key, server_token)
    if auth.startswith("server"):
        headers["Authorization"] = server_token
    elif auth in ("user", "member"):
        user = values["user_id"] if auth == "member" else "nobody-at-all"
        headers["Authorization"] = jwt.encode({"user_id": user}, secret, algorithm="HS256")
    failures = []
    for method, path in _routes(app, values):
        for body in BAD_BODIES if method in ("POST", "PUT", "PATCH", "DELETE") else [None]:
            kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
            response = await client.request(method, f"/chat{path}", params={"api_key": key, "payload": "{x"},
                                            headers=headers, **kwargs)
            if response.status_code >= 500:
                failures.append(f"{method} {path} {body!r:.60}: {response.status_code} {response.text[:200]}")
                continue
            if response.status_code >= 400:
                error = response.json()
                assert {"code", "message", "StatusCode", "duration"} <= set(error), (method, path, error)
    assert failures == []
