"""Signing in with the real ``clubhouse-py`` client against a real ``townhall serve``: the console
SMS code comes from ``townhall sms last`` (shared by the clubhouse-py club and room tests)."""

from __future__ import annotations

import random
import re
from typing import Any

from clubhouse.clubhouse import Clubhouse

from townhall.config import Settings


def signed_in(server: Any, settings: Settings, run_townhall: Any, name: str) -> Clubhouse:
    """A new member named ``name``, signed in with a fresh phone number."""
    api_url = f"{server.base_url}/social/api"
    phone = f"+1628{random.randint(2_000_000, 9_999_999)}"
    anonymous = Clubhouse()
    anonymous.API_URL = api_url
    assert anonymous.start_phone_number_auth(phone)["success"] is True
    text = run_townhall("sms", "last", phone, "--data-dir", str(server.data_dir),
                        env={"TOWNHALL_DATABASE_URL": settings.resolved_database_url()}).stdout
    code = re.findall(r"\d{4,8}", text)[-1]
    done = anonymous.complete_phone_number_auth(phone, None, code)
    assert done["success"] is True, done
    client = Clubhouse(user_id=str(done["user_profile"]["user_id"]), user_token=done["auth_token"])
    client.API_URL = api_url
    assert client.update_name(name)["success"] is True
    return client


def user_id_of(client: Clubhouse) -> int:
    return int(client.HEADERS["CH-UserID"])
