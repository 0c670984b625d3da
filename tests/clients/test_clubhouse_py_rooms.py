"""The real `clubhouse-py` client (PyPI), unchanged apart from its API_URL, against a real
``townhall serve`` with the null media backend: create a room, join it, raise a hand, invite a
speaker, accept, ping, moderate, end."""

from __future__ import annotations

from typing import Any

import pytest
from clubhouse_session import signed_in, user_id_of

from townhall.config import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _users(room: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {u["user_id"]: u for u in room["users"]}


def test_clubhouse_py_runs_a_room_from_creation_to_end(server: Any, settings: Settings, run_townhall: Any) -> None:
    ada = signed_in(server, settings, run_townhall, "Ada")
    bob = signed_in(server, settings, run_townhall, "Bob")
    cat = signed_in(server, settings, run_townhall, "Cat")

    made = ada.create_channel(topic="Analytical engines")
    assert made["success"] is True, made
    channel = made["channel"]
    assert made["topic"] == "Analytical engines" and made["token"] and made["pubnub_token"]
    assert made["pubnub_origin"] == server.base_url.split("://", 1)[1]

    assert channel in [c["channel"] for c in bob.get_channels()["channels"]]
    assert channel in [i["channel"]["channel"] for i in bob.get_feed()["items"]]
    joined = bob.join_channel(channel)
    assert joined["success"] is True and joined["channel_id"] == made["channel_id"], joined
    assert _users(joined)[user_id_of(bob)]["is_speaker"] is False
    assert cat.join_channel(channel)["success"] is True
    assert bob.active_ping(channel) == {"success": True, "should_leave": False}

    # a hand, an invitation, an accepted invitation with fresh (speaking) credentials
    assert bob.audience_reply(channel, raise_hands=True, unraise_hands=False)["success"] is True
    assert [u["user_id"] for u in ada.get_suggested_speakers(channel)["users"]] == [user_id_of(bob)]
    assert ada.invite_speaker(channel, user_id_of(bob))["success"] is True
    accepted = bob.accept_speaker_invite(channel, user_id_of(ada))
    assert accepted["success"] is True and "publish=true" in accepted["token"], accepted
    room = ada.get_channel(channel)
    assert _users(room)[user_id_of(bob)]["is_speaker"] is True and "token" not in room

    # moderation: settings, a moderator, a mute, a block
    assert ada.change_handraise_settings(channel, True, 2)["success"] is True
    assert ada.make_moderator(channel, user_id_of(bob))["success"] is True
    assert ada.mute_speaker(channel, user_id_of(bob))["success"] is True
    assert cat.end_channel(channel)["success"] is False  # a listener cannot end it
    assert bob.block_from_channel(channel, user_id_of(cat))["success"] is True
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
