"""Scheduled events over the Clubhouse API."""

from __future__ import annotations

import secrets
import time
from typing import Any

EVENT_FIELDS = {"event_id", "name", "description", "time_start", "is_expired", "is_member_only", "url", "hosts",
                "club", "club_is_member", "club_is_follower", "channel"}


def later(hours: float = 2) -> int:
    return int(time.time() + hours * 3600)


async def test_an_event_is_scheduled_with_hosts_who_hear_of_it(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    made = await ada.ok("create_event", {"name": "Town talk", "description": "All welcome",
                                         "time_start_epoch": later(), "user_ids": [bob.user_id], "club_id": None,
                                         "is_member_only": False, "event_id": None, "event_hashid": None})
    event = made["event"]
    assert EVENT_FIELDS <= set(event) and event["is_expired"] is False and event["club"] is None
    assert [h["user_id"] for h in event["hosts"]] == [ada.user_id, bob.user_id]
    assert event["hosts"][0]["name"] == "ada" and event["time_start"].endswith("+00:00")
    bell = await bob.ok("get_notifications")
    assert (16, event["event_id"]) in [(n["type"], n["event_id"]) for n in bell["notifications"]]  # a guest
    fetched = await bob.ok("get_event", {"event_id": event["event_id"]})
    assert fetched["event"]["event_id"] == event["event_id"] and fetched["event"]["is_host"] is True
    hashid = event["url"].rsplit("=", 1)[-1]
    assert (await bob.ok("get_event", {"event_hashid": hashid}))["event"]["event_id"] == event["event_id"]


async def test_clubhouse_py_schedules_through_edit_event_without_an_id(people: Any) -> None:
    (ada,) = await people("ada")
    body = {"user_ids": (), "club_id": None, "is_member_only": False, "event_id": None, "event_hashid": None,
            "description": "d", "time_start_epoch": later(), "name": f"Via edit {secrets.token_hex(3)}"}
    first = await ada.ok("edit_event", {**body, "user_ids": []})
    retried = await ada.ok("edit_event", {**body, "user_ids": []})
    assert first["event"]["event_id"] == retried["event"]["event_id"]


async def test_bad_events_get_clear_errors(people: Any) -> None:
    (ada,) = await people("ada")
    base = {"name": "x", "time_start_epoch": later()}
    assert await ada.fails("create_event", {**base, "name": ""})
    assert "past" in await ada.fails("create_event", {**base, "time_start_epoch": later(-5)})
    assert await ada.fails("create_event", {**base, "time_start_epoch": "soon"})
    assert await ada.fails("create_event", {**base, "user_ids": [10**12]})
    assert await ada.fails("create_event", {**base, "user_ids": "abc"})
    assert await ada.fails("create_event", {**base, "club_id": 10**12})
    assert await ada.fails("create_event", {**base, "is_member_only": True})
    assert await ada.fails("get_event", {"event_id": 10**12})
    assert await ada.fails("get_event", {})
    assert (await ada.ok("get_events_for_user", {"user_id": ada.user_id}))["count"] == 0


async def test_upcoming_for_you_lists_followed_hosts_and_clubs(people: Any) -> None:
    me, host, admin = await people("me", "host", "admin")
    await me.ok("follow", {"user_id": host.user_id})
    club_id = (await admin.ok("create_club", {"name": f"Club {secrets.token_hex(4)}"}))["club_id"]
    await me.ok("follow_club", {"club_id": club_id})
    by_host = (await host.ok("create_event", {"name": "Host's", "time_start_epoch": later(1)}))["event"]
    of_club = (await admin.ok("create_event", {"name": "Club's", "time_start_epoch": later(2),
                                               "club_id": club_id}))["event"]
    page = await me.ok("get_events", method="GET", query={"is_filtered": "true", "page_size": 25, "page": 1})
    assert [e["event_id"] for e in page["events"]] == [by_host["event_id"], of_club["event_id"]]
    assert page["count"] == 2 and page["next"] is None
    assert page["events"][1]["club"]["club_id"] == club_id and page["events"][1]["club_is_follower"] is True
    small = await me.ok("get_events", method="GET", query={"page_size": 1})
    assert small["next"] == 2 and len(small["events"]) == 1
    everything = await me.ok("get_events", method="GET", query={"is_filtered": "false", "page_size": 200})
    assert everything["count"] >= 2
    assert (await me.ok("get_events_for_user", method="GET", query={"user_id": host.user_id}))["count"] == 1


async def test_only_the_creator_or_club_admins_edit_or_delete_an_event(people: Any) -> None:
    ada, eve, bob = await people("ada", "eve", "bob")
    event = (await ada.ok("create_event", {"name": "Mine", "time_start_epoch": later()}))["event"]
    assert "creator" in await eve.fails("edit_event", {"event_id": event["event_id"], "name": "Ours"})
    assert "creator" in await eve.fails("delete_event", {"event_id": event["event_id"]})
    edited = await ada.ok("edit_event", {"event_id": event["event_id"], "name": "Renamed", "description": None,
                                         "time_start_epoch": later(3), "user_ids": [bob.user_id], "club_id": None,
                                         "is_member_only": False})
    assert edited["event"]["name"] == "Renamed"
    assert [h["user_id"] for h in edited["event"]["hosts"]] == [ada.user_id, bob.user_id]
    await ada.ok("delete_event", {"event_id": event["event_id"]})
    assert await ada.fails("get_event", {"event_id": event["event_id"]})


async def test_events_to_start_are_the_hosts_events_of_the_coming_hour(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    soon = (await ada.ok("create_event", {"name": "Soon", "time_start_epoch": later(0.25),
                                          "user_ids": [bob.user_id]}))["event"]
    await ada.ok("create_event", {"name": "Later", "time_start_epoch": later(5)})
    for person in (ada, bob):
        found = await person.ok("get_events_to_start", method="GET")
        assert [e["event_id"] for e in found["events"]] == [soon["event_id"]]


async def test_member_only_events_stay_within_the_club(people: Any) -> None:
    ada, eve = await people("ada", "eve")
    club_id = (await ada.ok("create_club", {"name": f"Club {secrets.token_hex(4)}"}))["club_id"]
    event = (await ada.ok("create_event", {"name": "Members", "time_start_epoch": later(), "club_id": club_id,
                                           "is_member_only": True}))["event"]
    assert event["is_member_only"] is True and event["club_is_member"] is True
    assert "does not exist" in await eve.fails("get_event", {"event_id": event["event_id"]})
    assert await eve.fails("create_event", {"name": "Hijack", "time_start_epoch": later(), "club_id": club_id})
    club_events = await ada.ok("get_events_for_club", {"club_id": club_id})
    assert [e["event_id"] for e in club_events["events"]] == [event["event_id"]]
    assert (await eve.ok("get_events_for_club", {"club_id": club_id}))["count"] == 0
