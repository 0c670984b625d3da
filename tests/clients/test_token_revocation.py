"""Revoking chat tokens, the way Stream's PyPI SDK does it (``revoke_user_token``,
``revoke_users_token``, ``revoke_tokens``): tokens issued before the cutoff are refused with
code 40, so client SDKs fetch a fresh one; newer tokens keep working."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from stream_chat import StreamChat
from stream_chat.base.exceptions import StreamAPIException

if TYPE_CHECKING:
    from conftest import Server

CACHE_SECONDS = 1.1  # a process remembers a user (and their cutoff) for up to a second


@pytest.fixture(scope="module")
def chat(server: Server) -> StreamChat:
    return StreamChat(server.api_key, server.api_secret, base_url=server.chat_url, timeout=15)


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.chat_url, timeout=15) as client:
        yield client


def make_user(chat: StreamChat) -> str:
    user_id = f"u-{uuid.uuid4().hex[:12]}"
    chat.upsert_user({"id": user_id})
    return user_id


def token(server: Server, user_id: str, issued: datetime | None) -> str:
    claims: dict[str, Any] = {"user_id": user_id}
    if issued is not None:
        claims["iat"] = int(issued.timestamp())
    return jwt.encode(claims, server.api_secret, algorithm="HS256")


def get_self(http: httpx.Client, server: Server, user_id: str, user_token: str) -> httpx.Response:
    """A client-side call as ``user_id``: what the JS SDK sends."""
    return http.get("/app", params={"api_key": server.api_key, "user_id": user_id},
                    headers={"Authorization": user_token, "stream-auth-type": "jwt"})


def test_a_revoked_users_older_tokens_are_refused_with_code_40_and_newer_ones_work(
    server: Server, chat: StreamChat, http: httpx.Client
) -> None:
    user, bystander = make_user(chat), make_user(chat)
    cutoff = datetime.now(UTC) - timedelta(minutes=10)
    old = token(server, user, cutoff - timedelta(minutes=5))
    new = token(server, user, cutoff + timedelta(minutes=5))
    assert get_self(http, server, user, old).status_code == 200

    chat.revoke_user_token(user, cutoff)
    time.sleep(CACHE_SECONDS)

    refused = get_self(http, server, user, old)
    assert refused.status_code == 401
    assert refused.json()["code"] == 40
    assert get_self(http, server, user, new).status_code == 200
    assert get_self(http, server, bystander, token(server, bystander, cutoff - timedelta(minutes=5))).status_code == 200


def test_a_token_without_iat_is_refused_once_its_user_has_a_cutoff(
    server: Server, chat: StreamChat, http: httpx.Client
) -> None:
    user = make_user(chat)
    chat.revoke_users_token([user], datetime.now(UTC) - timedelta(days=1))
    time.sleep(CACHE_SECONDS)
    assert get_self(http, server, user, token(server, user, None)).json()["code"] == 40


def test_clearing_the_cutoff_lets_older_tokens_in_again(server: Server, chat: StreamChat, http: httpx.Client) -> None:
    user = make_user(chat)
    old = token(server, user, datetime.now(UTC) - timedelta(hours=1))
    chat.revoke_user_token(user, datetime.now(UTC))
    time.sleep(CACHE_SECONDS)
    assert get_self(http, server, user, old).status_code == 401

    chat.update_users_partial([{"id": user, "unset": ["revoke_tokens_issued_before"]}])
    time.sleep(CACHE_SECONDS)

    assert get_self(http, server, user, old).status_code == 200


def test_an_app_wide_cutoff_refuses_every_users_older_tokens(
    server: Server, chat: StreamChat, http: httpx.Client
) -> None:
    first, second = make_user(chat), make_user(chat)
    cutoff = datetime.now(UTC) - timedelta(minutes=30)
    try:
        chat.revoke_tokens(cutoff)
        time.sleep(CACHE_SECONDS)
        for user in (first, second):
            assert get_self(http, server, user, token(server, user, cutoff - timedelta(minutes=1))).status_code == 401
            assert get_self(http, server, user, token(server, user, cutoff + timedelta(minutes=1))).status_code == 200
        assert chat.get_app_settings()["app"]["revoke_tokens_issued_before"].startswith(cutoff.strftime("%Y-%m-%dT%H:%M"))
    finally:
        chat.update_app_settings(revoke_tokens_issued_before=None)
        time.sleep(CACHE_SECONDS)
    assert get_self(http, server, first, token(server, first, cutoff - timedelta(minutes=1))).status_code == 200


def test_only_server_side_calls_may_revoke_tokens(server: Server, chat: StreamChat, http: httpx.Client) -> None:
    user = make_user(chat)
    response = http.patch(
        "/users", params={"api_key": server.api_key, "user_id": user},
        headers={"Authorization": server.make_token(user), "stream-auth-type": "jwt"},
        json={"users": [{"id": user, "set": {"revoke_tokens_issued_before": datetime.now(UTC).isoformat()}}]},
    )
    assert response.status_code == 403
    assert response.json()["code"] == 17


def test_a_cutoff_that_is_not_a_time_is_a_clear_input_error(chat: StreamChat) -> None:
    user = make_user(chat)
    with pytest.raises(StreamAPIException) as excinfo:
        chat.update_users_partial([{"id": user, "set": {"revoke_tokens_issued_before": "yesterday"}}])
    assert excinfo.value.status_code == 400
    with pytest.raises(StreamAPIException) as excinfo:
        chat.update_app_settings(revoke_tokens_issued_before=12)
    assert excinfo.value.status_code == 400
