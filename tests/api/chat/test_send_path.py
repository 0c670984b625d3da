"""The fast send path: the lean request path answers exactly as FastAPI's routing does, and the
cached channels and memberships never let a change slip past the next request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import jwt
import pytest

from townhall.app import create_app
from townhall.config import Settings
from townhall.container import Container


def _http(app: Any, container: Container, token: str | None = None) -> httpx.AsyncClient:
    secret = container.credentials.chat_api_secret
    headers = {"stream-auth-type": "jwt",
               "Authorization": token or jwt.encode({"server": True}, secret, algorithm="HS256")}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://townhall.test/chat",
                             headers=headers, params={"api_key": container.credentials.chat_api_key})


def _user_token(container: Container, user: str) -> str:
    return jwt.encode({"user_id": user}, container.credentials.chat_api_secret, algorithm="HS256")


@pytest.fixture
async def both(settings: Settings, migrated_db_url: str) -> AsyncIterator[list[tuple[httpx.AsyncClient, Container]]]:
    """Two apps on the same database, rate limits on: the lean path, and FastAPI's routing alone."""
    async with AsyncExitStack() as stack:
        pairs = []
        for lean in (True, False):
            chosen = settings.model_copy(update={"chat": settings.chat.model_copy(update={"lean_http": lean})})
            container = Container.build(chosen)
            await container.start()
            stack.push_async_callback(container.close)
            app = create_app(chosen, container)
            await stack.enter_async_context(app.router.lifespan_context(app))
            pairs.append((await stack.enter_async_context(_http(app, container)), container))
        yield pairs


def _comparable(response: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body.pop("duration", None)
        if isinstance(body.get("message"), dict):  # a sent message: its id and times differ
            body = {"message": sorted(body["message"])}
    headers = {k: v for k, v in response.headers.items()
               if k in ("content-type", "allow") or (k.startswith("x-ratelimit") and k != "x-ratelimit-remaining")}
    return response.status_code, body, headers


async def test_the_lean_path_answers_every_request_as_fastapi_routing_does(both) -> None:
    (lean, container), (plain, _) = both
    user, channel = f"lean-{uuid.uuid4().hex[:8]}", f"lean-{uuid.uuid4().hex[:8]}"
    assert (await lean.post("/users", json={"users": {user: {"id": user}}})).status_code == 201
    created = await lean.post(f"/channels/messaging/{channel}/query",
                              json={"data": {"members": [user], "created_by_id": user}})
    assert created.status_code == 201
    user_auth = {"Authorization": _user_token(container, user)}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/channels/messaging/{channel}/message", {"json": {"message": {"text": "hi"}, "user_id": user}}),
        ("POST", f"/channels/messaging/{channel}/message", {"json": {"message": {"text": "hi"}},
                                                            "headers": user_auth}),
        ("POST", f"/channels/messaging/{channel}/message", {"content": b"{not json"}),
        ("POST", f"/channels/messaging/{channel}/message", {"json": {"message": {"text": 5}, "user_id": user}}),
        ("POST", f"/channels/messaging/{channel}/message", {"json": {"message": {"text": "x"}}}),
        ("POST", "/channels/messaging/no-such-channel/message", {"json": {"message": {"text": "x"}, "user_id": user}}),
        ("POST", f"/channels/messaging/{channel}/message", {"json": {}, "headers": {"Authorization": "bad"}}),
        ("POST", f"/channels/messaging/{channel}/message", {"json": {}, "params": {"api_key": "wrong"}}),
        ("GET", f"/channels/messaging/{channel}/message", {}),  # no such method
        ("GET", "/no/such/route", {}),
        ("POST", "/messages/history", {"json": {"filter": {"message_id": "nope"}}}),
        ("GET", "/messages/does-not-exist", {}),
        ("GET", "/app", {}),
        ("GET", "/openapi.json", {}),
    ]
    for method, path, kwargs in requests:
        answers = [_comparable(await client.request(method, path, **kwargs)) for client in (lean, plain)]
        assert answers[0] == answers[1], (method, path)
        assert answers[0][0] < 500, (method, path, answers[0])


@pytest.fixture
async def chat(app: Any, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with _http(app, container) as http:
        yield http


async def _users_and_channel(chat: httpx.AsyncClient, *names: str, **data: Any) -> tuple[list[str], str]:
    users = [f"{n}-{uuid.uuid4().hex[:8]}" for n in names]
    channel = f"send-{uuid.uuid4().hex[:8]}"
    assert (await chat.post("/users", json={"users": {u: {"id": u} for u in users}})).status_code == 201
    created = await chat.post(f"/channels/{data.pop('type', 'messaging')}/{channel}/query",
                              json={"data": {"members": users, "created_by_id": users[0], **data}})
    assert created.status_code == 201, created.text
    return users, channel


async def _send_as(chat: httpx.AsyncClient, container: Container, user: str, cid: str,
                   text: str = "hello") -> httpx.Response:
    return await chat.post(f"/channels/{cid.replace(':', '/')}/message", json={"message": {"text": text}},
                           headers={"Authorization": _user_token(container, user)})


async def test_a_removed_member_cannot_send_in_the_very_next_request(chat, container) -> None:
    (owner, member), channel = await _users_and_channel(chat, "owner", "member")
    cid = f"messaging:{channel}"
    assert (await _send_as(chat, container, member, cid)).status_code == 201
    removed = await chat.post(f"/channels/messaging/{channel}", json={"remove_members": [member]})
    assert removed.status_code == 201, removed.text
    refused = await _send_as(chat, container, member, cid)
    assert refused.status_code == 403 and refused.json()["code"] == 17
    assert (await _send_as(chat, container, owner, cid)).status_code == 201


async def test_an_added_member_can_send_in_the_very_next_request(chat, container) -> None:
    (owner, newcomer), channel = await _users_and_channel(chat, "owner", "newcomer")
    cid = f"messaging:{channel}"
    await chat.post(f"/channels/messaging/{channel}", json={"remove_members": [newcomer]})
    assert (await _send_as(chat, container, owner, cid)).status_code == 201
    assert (await _send_as(chat, container, newcomer, cid)).status_code == 403
    added = await chat.post(f"/channels/messaging/{channel}", json={"add_members": [newcomer]})
    assert added.status_code == 201, added.text
    assert (await _send_as(chat, container, newcomer, cid)).status_code == 201


async def test_freezing_a_channel_refuses_the_very_next_message(chat, container) -> None:
    (owner,), channel = await _users_and_channel(chat, "owner")
    cid = f"messaging:{channel}"
    assert (await _send_as(chat, container, owner, cid)).status_code == 201
    frozen = await chat.patch(f"/channels/messaging/{channel}", json={"set": {"frozen": True}})
    assert frozen.status_code == 200, frozen.text
    assert (await _send_as(chat, container, owner, cid)).status_code == 403


async def test_a_channel_type_change_applies_to_the_very_next_message(chat, container) -> None:
    name = f"t{uuid.uuid4().hex[:8]}"
    made = await chat.post("/channeltypes", json={"name": name, "max_message_length": 100})
    assert made.status_code == 201, made.text
    (owner,), channel = await _users_and_channel(chat, "owner", type=name)
    cid = f"{name}:{channel}"
    assert (await _send_as(chat, container, owner, cid, "x" * 50)).status_code == 201
    changed = await chat.put(f"/channeltypes/{name}", json={"max_message_length": 10})
    assert changed.status_code == 201, changed.text
    too_long = await _send_as(chat, container, owner, cid, "x" * 50)
    assert too_long.status_code == 400


async def test_a_deleted_channel_takes_no_more_messages(chat, container) -> None:
    (owner,), channel = await _users_and_channel(chat, "owner")
    cid = f"messaging:{channel}"
    assert (await _send_as(chat, container, owner, cid)).status_code == 201
    assert (await chat.delete(f"/channels/messaging/{channel}")).status_code == 200
    assert (await _send_as(chat, container, owner, cid)).status_code == 404
