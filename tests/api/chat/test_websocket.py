"""The Stream Chat WebSocket (/chat/connect) against a real ``townhall serve``, spoken the way
Stream's clients speak it (notes/stream-chat.md, "WebSocket"), with REST calls in Stream's wire format.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:
    from conftest import Server

TIMEOUT = 5.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def connect_url(server: Server, user_id: str, token: str, *, api_key: str | None = None,
                details: dict[str, Any] | None = None) -> str:
    payload = {"user_id": user_id, "user_details": details or {"id": user_id}, "client_request_id": str(uuid.uuid4())}
    query = urlencode({"json": json.dumps(payload), "api_key": api_key or server.api_key, "authorization": token,
                       "stream-auth-type": "jwt", "X-Stream-Client": "townhall-tests"})
    return f"{server.chat_url.replace('http', 'ws', 1)}/connect?{query}"


@dataclass
class Chat:
    """One signed-in client: its socket (after the hello) and its REST calls."""

    server: Server
    user_id: str
    token: str
    ws: ClientConnection
    hello: dict[str, Any]

    @property
    def connection_id(self) -> str:
        return str(self.hello["connection_id"])

    async def next(self, type_: str, *, user: str | None = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame of ``type_`` (about ``user`` if given); other frames are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.ws.recv())
                if frame.get("type") == type_ and (user is None or (frame.get("user") or {}).get("id") == user):
                    return frame  # type: ignore[no-any-return]

    async def nothing_of(self, type_: str, wait: float = 0.5) -> None:
        with pytest.raises(TimeoutError):
            await self.next(type_, timeout=wait)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.server.chat_url, timeout=TIMEOUT) as http:
            response = await http.post(
                path, json=body,
                params={"api_key": self.server.api_key, "user_id": self.user_id,
                        "connection_id": self.connection_id},
                headers={"Authorization": self.token, "stream-auth-type": "jwt"},
            )
        assert response.status_code == 201 or response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def watch(self, channel_id: str, members: list[str] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"members": members} if members else {}
        return await self.post(f"/channels/messaging/{channel_id}/query",
                               {"watch": True, "state": True, "presence": True, "data": data})

    async def send(self, channel_id: str, text: str) -> dict[str, Any]:
        return await self.post(f"/channels/messaging/{channel_id}/message", {"message": {"text": text}})


@asynccontextmanager
async def chat(server: Server, user_id: str | None = None, **details: Any) -> AsyncIterator[Chat]:
    user_id = user_id or unique("user")
    token = server.make_token(user_id)
    async with ws_connect(connect_url(server, user_id, token, details={"id": user_id, **details})) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert hello["type"] == "health.check", hello
        yield Chat(server, user_id, token, ws, hello)


async def rejection(url: str) -> tuple[dict[str, Any], int | None]:
    """The error frame and the close code of a refused connection."""
    async with ws_connect(url) as ws:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        return frame, ws.close_code


async def test_the_first_frame_is_a_health_check_with_the_connection_id_and_me(server: Server) -> None:
    async with chat(server, name="Ann", color="red") as ann:
        hello = ann.hello
        assert hello["cid"] == "*" and uuid.UUID(hello["connection_id"]) and hello["created_at"]
        me = hello["me"]
        assert me["id"] == ann.user_id and me["name"] == "Ann" and me["color"] == "red"
        assert me["online"] is True and me["role"] == "user"
        assert me["devices"] == [] and me["mutes"] == [] and me["channel_mutes"] == []
        assert me["unread_count"] == 0 and me["total_unread_count"] == 0 and me["unread_channels"] == 0


async def test_connecting_again_updates_the_user_partially_and_never_its_role(server: Server) -> None:
    user_id = unique("user")
    async with chat(server, user_id, name="Ann", color="red"):
        pass
    async with chat(server, user_id, name="Annie", role="admin") as again:
        me = again.hello["me"]
        assert me["name"] == "Annie" and me["color"] == "red" and me["role"] == "user"


async def test_a_bad_token_gets_an_error_frame_then_close_code_1000(server: Server) -> None:
    user_id = unique("user")
    forged = jwt.encode({"user_id": user_id}, "a secret that is not the app's secret", algorithm="HS256")
    frame, code = await rejection(connect_url(server, user_id, forged))
    assert frame["error"]["code"] == 43 and frame["error"]["StatusCode"] == 401 and frame["error"]["message"]
    assert code == 1000


async def test_a_token_of_another_user_is_rejected(server: Server) -> None:
    frame, code = await rejection(connect_url(server, unique("user"), server.make_token(unique("other"))))
    assert frame["error"]["code"] == 5 and code == 1000


async def test_a_wrong_api_key_is_rejected(server: Server) -> None:
    user_id = unique("user")
    frame, code = await rejection(connect_url(server, user_id, server.make_token(user_id), api_key="nope"))
    assert frame["error"]["code"] == 2 and code == 1000


async def test_a_client_health_check_is_answered_with_the_connection_id(server: Server) -> None:
    async with chat(server) as ann:
        await ann.ws.send(json.dumps([{"type": "health.check", "client_id": f"{ann.user_id}--x"}]))
        pong = await ann.next("health.check")
        assert pong["connection_id"] == ann.connection_id and "me" not in pong
        await ann.ws.send("not json")  # ignored
        await ann.ws.send(json.dumps({"type": "health.check"}))
        assert (await ann.next("health.check"))["connection_id"] == ann.connection_id


async def test_a_watcher_receives_message_new_when_another_member_sends(server: Server) -> None:
    channel_id = unique("room")
    async with chat(server) as ann, chat(server) as bob:
        state = await ann.watch(channel_id, members=[ann.user_id, bob.user_id])
        assert state["channel"]["cid"] == f"messaging:{channel_id}"
        await bob.watch(channel_id)
        assert (await ann.next("user.watching.start", user=bob.user_id))["watcher_count"] == 2

        await ann.send(channel_id, "hello bob")

        event = await bob.next("message.new")
        assert event["cid"] == f"messaging:{channel_id}" and event["channel_type"] == "messaging"
        assert event["channel_id"] == channel_id and event["watcher_count"] == 2
        assert event["message"]["text"] == "hello bob" and event["user"]["id"] == ann.user_id
        assert (await ann.next("message.new"))["message"]["id"] == event["message"]["id"]


async def test_a_member_who_is_not_watching_gets_notification_message_new(server: Server) -> None:
    channel_id = unique("room")
    async with chat(server) as ann, chat(server) as cat:
        await ann.watch(channel_id, members=[ann.user_id, cat.user_id])
        await ann.send(channel_id, "are you there?")
        event = await cat.next("notification.message_new")
        assert event["cid"] == f"messaging:{channel_id}" and event["channel"]["id"] == channel_id
        assert event["message"]["text"] == "are you there?"


async def test_a_message_with_restricted_visibility_reaches_only_the_users_who_see_it(server: Server) -> None:
    channel_id = unique("room")
    async with chat(server) as ann, chat(server) as bob, chat(server) as cat, chat(server) as dan:
        await ann.watch(channel_id, members=[ann.user_id, bob.user_id, cat.user_id, dan.user_id])
        await bob.watch(channel_id)
        await cat.watch(channel_id)
        async with httpx.AsyncClient(base_url=server.chat_url, timeout=TIMEOUT) as http:
            response = await http.post(
                f"/channels/messaging/{channel_id}/message", params={"api_key": server.api_key},
                headers={"Authorization": jwt.encode({"server": True}, server.api_secret, algorithm="HS256"),
                         "stream-auth-type": "jwt"},
                json={"message": {"text": "psst", "restricted_visibility": [bob.user_id, dan.user_id]},
                      "user_id": ann.user_id})
        assert response.status_code == 201, response.text
        assert (await bob.next("message.new"))["message"]["restricted_visibility"] == [bob.user_id, dan.user_id]
        assert (await dan.next("notification.message_new"))["message"]["text"] == "psst"
        assert (await ann.next("message.new"))["message"]["text"] == "psst"
        await cat.nothing_of("message.new")

        await ann.send(channel_id, "for all")
        assert (await cat.next("message.new"))["message"]["text"] == "for all"


async def test_typing_start_sent_over_rest_reaches_the_other_watcher(server: Server) -> None:
    channel_id = unique("room")
    async with chat(server) as ann, chat(server) as bob:
        await ann.watch(channel_id, members=[ann.user_id, bob.user_id])
        await bob.watch(channel_id)
        await bob.post(f"/channels/messaging/{channel_id}/event", {"event": {"type": "typing.start"}})
        typing = await ann.next("typing.start")
        assert typing["user"]["id"] == bob.user_id and typing["cid"] == f"messaging:{channel_id}"


async def test_a_watcher_sees_others_come_online_and_leave(server: Server) -> None:
    channel_id = unique("room")
    bob_id = unique("bob")
    async with chat(server) as ann:
        async with chat(server, bob_id) as bob:
            await ann.watch(channel_id, members=[ann.user_id, bob_id])
            await bob.watch(channel_id)
            assert (await ann.next("user.watching.start", user=bob_id))["watcher_count"] == 2
        assert (await ann.next("user.watching.stop", user=bob_id))["watcher_count"] == 1
        assert (await ann.next("user.presence.changed", user=bob_id))["user"]["online"] is False
