"""Topics over the Clubhouse API."""

from __future__ import annotations

from typing import Any


async def test_all_topics_come_as_categories_holding_their_topics(people: Any) -> None:
    (ada,) = await people("ada")
    for method in ("GET", "POST"):
        tree = (await ada.ok("get_all_topics", method=method))["topics"]
        assert set(tree[0]) == {"id", "title", "abbreviated_title", "topics"}
        assert set(tree[0]["topics"][0]) == {"id", "title", "abbreviated_title"}
    future = await ada.ok("get_topic", {"topic_id": 1005})
    assert future["topic"] == {"id": 1005, "title": "⏳ The Future", "abbreviated_title": "The Future"}


async def test_people_pick_topics_and_are_listed_under_them(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    await ada.ok("add_user_topic", {"club_id": None, "topic_id": 1006})
    await ada.ok("add_user_topic", {"topic_id": "1006"})
    await bob.ok("add_user_topic", {"topic_id": 1006})
    listed = await ada.ok("get_users_for_topic", method="GET", query={"topic_id": 1006, "page_size": 1, "page": 1})
    assert listed["count"] >= 2 and listed["next"] == 2
    assert listed["users"][0]["user_id"] == bob.user_id and listed["users"][0]["name"] == "bob"
    assert {"user_id", "name", "photo_url", "username", "bio", "twitter"} <= set(listed["users"][0])
    await bob.ok("remove_user_topic", {"club_id": None, "topic_id": 1006})
    again = await ada.ok("get_users_for_topic", {"topic_id": 1006, "page_size": 50})
    assert bob.user_id not in [u["user_id"] for u in again["users"]]
    profile = await ada.ok("get_profile", {"user_id": ada.user_id})
    assert 1006 in [t["id"] for t in profile["user_profile"]["topics"]]


async def test_unknown_or_malformed_topics_are_refused(people: Any) -> None:
    (ada,) = await people("ada")
    assert "does not exist" in await ada.fails("get_topic", {"topic_id": 999999})
    assert await ada.fails("get_topic", {"topic_id": "seven"})
    assert await ada.fails("get_topic", {})
    assert await ada.fails("add_user_topic", {"topic_id": 999999})
    assert await ada.fails("get_users_for_topic", {"topic_id": 0})
