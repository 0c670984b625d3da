"""Experts direct messages and Stream's PyPI SDK (``stream-chat``) against a real ``townhall serve``:
a message posted with ``POST /experts/v1/messages/{id}`` is in the distinct messaging channel the
SDK finds for the two members, with the recipient's unread count; one the SDK sends shows in
``GET /experts/v1/messages/{id}`` unread, and reading it there reads it for chat too; a Stream
client online over the WebSocket is told of a new direct message at once."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from stream_chat import StreamChat
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from tests.core.experts.factories import make_member
from townhall.container import Container
from townhall.core.experts import tokens
from townhall.core.experts.messages import chat_ids

if TYPE_CHECKING:
    from conftest import Server


def _connect_url(server: Server, chat_id: str) -> str:
    """The Stream WebSocket of ``chat_id``, as Stream's client SDKs open it."""
    payload = {"user_id": chat_id, "user_details": {"id": chat_id}, "client_request_id": str(uuid.uuid4())}
    query = urlencode({"json": json.dumps(payload), "api_key": server.api_key, "authorization":
                       server.make_token(chat_id), "stream-auth-type": "jwt", "X-Stream-Client": "townhall-tests"})
    return f"{server.chat_url.replace('http', 'ws', 1)}/connect?{query}"


async def _next_of(ws: ClientConnection, type_: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == type_:
                return frame  # type: ignore[no-any-return]


def _read_of(state: dict[str, Any], chat_id: str) -> dict[str, Any]:
    return next(r for r in state["read"] if r["user"]["id"] == chat_id)


async def _member(container: Container, name: str) -> tuple[int, str]:
    user_id, _ = await make_member(container, name=name)
    async with container.uow() as uow:
        return user_id, await tokens.issue(uow, user_id)


async def test_experts_messages_and_the_stream_sdk_share_one_conversation(server: Server, container: Container) -> None:
    (clara, clara_token), (sam, sam_token) = await _member(container, "Clara Expert"), await _member(container, "Sam")
    api = httpx.Client(base_url=f"{server.base_url}/experts/v1", timeout=15)
    chat = StreamChat(server.api_key, server.api_secret, base_url=server.chat_url, timeout=15)
    try:
        sent = api.post(f"/messages/{sam}", data={"message": "Hello from Clarity"},
                        headers={"Authorization": f"Bearer {clara_token}"})
        assert sent.status_code == 201, sent.text
        async with container.read() as conn:
            ids = await chat_ids(conn, [clara, sam])
        clara_chat, sam_chat = ids[clara], ids[sam]

        channel = chat.channel("messaging", data={"members": [clara_chat, sam_chat]})
        state = channel.query(user_id=sam_chat)
        assert state["channel"]["id"].startswith("!members-") and state["channel"]["member_count"] == 2
        assert [(m["text"], m["user"]["id"]) for m in state["messages"]] == [("Hello from Clarity", clara_chat)]
        assert _read_of(state, sam_chat)["unread_messages"] == 1
        found = chat.query_channels({"type": "messaging", "members": {"$eq": [clara_chat, sam_chat]}},
                                    user_id=sam_chat)
        assert [c["channel"]["cid"] for c in found["channels"]] == [state["channel"]["cid"]]

        channel.send_message({"text": "Hi from Stream"}, user_id=sam_chat)
        clara_auth = {"oauth_token": clara_token}
        (conversation,) = api.get("/messages", params=clara_auth).json()
        assert conversation["unread_message_count"] == 1 and conversation["other_member"]["id"] == sam
        assert conversation["last_message"]["message"] == "Hi from Stream"
        history = api.get(f"/messages/{sam}", params=clara_auth).json()["messages"]
        assert [(m["message"], m["member_id"], m["read"]) for m in history] == [
            ("Hi from Stream", sam, False), ("Hello from Clarity", clara, True)]

        after = channel.query(user_id=clara_chat)
        assert _read_of(after, clara_chat)["unread_messages"] == 0
        assert api.get("/messages", params=clara_auth).json()[0]["unread_message_count"] == 0
        sam_view = api.get(f"/messages/{clara}", params={"oauth_token": sam_token}).json()["messages"]
        assert [m["read"] for m in sam_view] == [True, True]

        async with ws_connect(_connect_url(server, sam_chat)) as ws:  # a Stream client of Sam's, online
            await _next_of(ws, "health.check")
            async with httpx.AsyncClient(base_url=f"{server.base_url}/experts/v1", timeout=15) as live:
                posted = await live.post(f"/messages/{sam}", params={"oauth_token": clara_token},
                                         json={"message": "Are you there?"})
            assert posted.status_code == 201, posted.text
            event = await _next_of(ws, "notification.message_new")
        assert event["message"]["text"] == "Are you there?" and event["message"]["user"]["id"] == clara_chat
        assert event["channel"]["cid"] == state["channel"]["cid"]
    finally:
        api.close()
