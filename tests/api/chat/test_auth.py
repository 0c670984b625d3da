"""The chat Authenticator: verified tokens are remembered, but an expired one is refused even
from memory; users are remembered for a moment and forgotten when they change."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import cast

import jwt
import pytest

from townhall.api.chat.errors import TOKEN_EXPIRED, TOKEN_SIGNATURE_INVALID, StreamError
from townhall.api.chat.http import TOKEN_LEEWAY, Authenticator
from townhall.container import Container
from townhall.credentials import Credentials

SECRET = "s" * 40


def authenticator() -> Authenticator:
    container = SimpleNamespace(credentials=Credentials(chat_api_key="key", chat_api_secret=SECRET))
    return Authenticator(cast(Container, container))


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator()
    token = jwt.encode({"user_id": "u", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert auth.claims(token)["user_id"] == "u"
    later = time.time() + 60 + TOKEN_LEEWAY + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(StreamError) as excinfo:
        auth.claims(token)
    assert excinfo.value.code == TOKEN_EXPIRED


def test_a_token_signed_with_another_secret_is_never_remembered() -> None:
    auth = authenticator()
    forged = jwt.encode({"user_id": "u"}, "x" * 40, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(StreamError) as excinfo:
            auth.claims(forged)
        assert excinfo.value.code == TOKEN_SIGNATURE_INVALID


async def test_the_api_key_is_checked_before_anything_else() -> None:
    with pytest.raises(StreamError) as excinfo:
        await authenticator().authenticate("wrong", "jwt", None)
    assert excinfo.value.status == 401 and excinfo.value.code == 2
