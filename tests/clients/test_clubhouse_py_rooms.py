"""The real `clubhouse-py` client (PyPI), unchanged apart from its API_URL, against a real
``townhall serve`` with the null media backend: create a room, join it, raise a hand, invite a
speaker, accept, ping, moderate, end."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from clubhouse.clubhouse import Clubhouse

from townhall.config import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _signed_in(server: Any, settings: Settings, run_townhall: Any, name: str) -> Clubhouse:
    api_url = f"{server.base_url}/social/api"
    phone = f"+1629{random.randint(2_000_000, 9_999_999)}"
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


def _uid(client: Clubhouse) -> int:
    return int(client.HEADERS["CH-UserID"])


def _users(room: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {u["user_id"]: u for u in room["users"]}


def test_clubhouse_py_runs_a_room_from_creation_to_end(server: Any, settings: Settings, run_townhall: Any) -> None:
    ada = _signed_in(server, settings, run_townhall, "Ada")
    bob = _signed_in(server, settings, run_townhall, "Bob")
    cat = _signed_in(server, settings, run_townhall, "Cat")

    made = ada.create_channel(topic="Analytical engines")
    assert made["success"] is True, made
    channel = made["channel"]
    assert made["topic"] == "Analytical engines" and made["token"] and made["pubnub_token"]
    assert made["pubnub_origin"] == server.base_url.split("://", 1)[1]

    assert channel in [c["channel"] for c in bob.get_channels()["channels"]]
    assert channel in [i["channel"]["channel"] for i in bob.get_feed()["items"]]
    joined = bob.join_channel(channel)
    assert joined["success"] is True and joined["channel_id"] == made["channel_id"], joined
    assert _users(joined)[_uid(bob)]["is_speaker"] is False
    assert cat.join_channel(channel)["success"] is True
    assert bob.active_ping(channel) == {"success": True, "should_leave": False}

    # a hand, an invitation, an accepted invitation with fresh (speaking) credentials
    assert bob.audience_reply(channel, raise_hands=True, unraise_hands=False)["success"] is True
    assert [u["user_id"] for u in ada.get_suggested_speakers(channel)["users"]] == [_uid(bob)]
    assert ada.invite_speaker(channel, _uid(bob))["success"] is True
    accepted = bob.accept_speaker_invite(channel, _uid(ada))
    assert accepted["success"] is True and "publish=true" in accepted["token"], accepted
    room = ada.get_channel(channel)
    assert _users(room)[_uid(bob)]["is_speaker"] is True and "token" not in room

    # moderation: settings, a moderator, a mute, a block
    assert ada.change_handraise_settings(channel, True, 2)["success"] is True
    assert ada.make_moderator(channel, _uid(bob))["success"] is True
    assert ada.mute_speaker(channel, _uid(bob))["success"] is True
    assert cat.end_channel(channel)["success"] is False  # a listener cannot end it
    assert bob.block_from_channel(channel, _uid(cat))["success"] is True
    assert cat.active_ping(channel)["should_leave"] is True
    refused = cat.join_channel(channel)
    assert refused["success"] is False and refused["error_message"]

    # the end
    assert ada.end_channel(channel)["success"] is True
    assert bob.active_ping(channel)["should_leave"] is True
    gone = bob.join_channel(channel)
    assert gone == {"success": False,
                    "error_message": "That room is no longer available 👋🏼\nTry starting a new one instead?"}
    assert bob.leave_channel(channel)["success"] is True
