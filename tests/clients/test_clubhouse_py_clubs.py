"""The real `clubhouse-py` client (PyPI), unchanged apart from its API_URL, against a real
``townhall serve``: sign in with the console SMS code, create and join a club, topics, events."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
import requests
from clubhouse_session import signed_in, user_id_of

from townhall.config import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_clubhouse_py_creates_joins_and_schedules_in_a_club(server: Any, settings: Settings,
                                                             run_townhall: Any) -> None:
    ada = signed_in(server, settings, run_townhall, "Ada")
    bob = signed_in(server, settings, run_townhall, "Bob")
    name = f"Jazz Hands {secrets.token_hex(3)}"

    # create_club is the later official app's endpoint (clubhouse-py predates it): same headers.
    made = requests.post(f"{ada.API_URL}/create_club", headers=ada.HEADERS, json={
        "name": name, "description": "Late night jazz", "topic_ids": [504]}, timeout=10).json()
    assert made["success"] is True, made
    club_id = made["club_id"]
    assert ada.update_club_rules(club_id, [{"title": "Listen", "desc": "first"}])["success"] is True

    club = bob.get_club(club_id)
    assert club["club"]["name"] == name and club["is_member"] is False
    assert bob.follow_club(club_id)["success"] is True
    assert [c["club_id"] for c in bob.search_clubs(name)["clubs"]] == [club_id]
    assert club_id in [c["club_id"] for c in bob.get_clubs_for_topic(504, page_size=200)["clubs"]]

    # join: the admin adds Bob, Bob accepts the invite
    assert ada.add_club_member(club_id, user_id_of(bob), "Bob", None, "join us", None)["success"] is True
    assert bob.get_club(club_id)["is_pending_accept"] is True
    assert bob.accept_club_member_invite(club_id)["success"] is True
    members = ada.get_club_members(club_id, page_size=50)
    assert {u["user_id"] for u in members["users"]} == {user_id_of(ada), user_id_of(bob)}
    assert bob.get_clubs(False)["clubs"][0]["club_id"] == club_id

    # events: clubhouse-py's create_event posts to edit_event without an id
    start = int(time.time()) + 1800
    created = ada.create_event("Jam session", start, "Bring a horn", user_ids=[user_id_of(bob)], club_id=club_id)
    assert created["success"] is True, created
    event_id = created["event"]["event_id"]
    assert ada.get_event(event_id)["event"]["club"]["club_id"] == club_id
    upcoming = bob.get_events(is_filtered=True, page_size=25, page=1)
    assert event_id in [e["event_id"] for e in upcoming["events"]]
    assert [e["event_id"] for e in bob.get_events_to_start()["events"]] == [event_id]
    assert bob.get_events_for_user(user_id_of(ada))["count"] == 1
    edited = ada.edit_event("Jam session (moved)", start + 600, "Bring a horn", event_id=event_id,
                            user_ids=[user_id_of(bob)], club_id=club_id)
    assert edited["event"]["name"] == "Jam session (moved)"
    assert bob.delete_event(event_id)["success"] is False  # only the creator or the club's admins
    assert ada.delete_event(event_id)["success"] is True

    # topics
    topics = bob.get_all_topics()["topics"]
    assert topics and topics[0]["topics"]
    assert bob.get_topic(1005)["topic"]["abbreviated_title"] == "The Future"
    assert bob.add_user_topic(topic_id=1005)["success"] is True
    assert user_id_of(bob) in [u["user_id"] for u in bob.get_users_for_topic(1005, page_size=200)["users"]]
