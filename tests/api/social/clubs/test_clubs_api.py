"""Clubs over the Clubhouse API: shapes, permissions, invites, nominations, topics, search."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

API = "/social/api"
SHORT_CLUB = {"club_id", "name", "description", "photo_url", "num_members", "num_followers", "is_member",
              "is_follower"}


def club_name(prefix: str = "Club") -> str:
    return f"{prefix} {secrets.token_hex(4)}"


async def test_a_club_made_over_the_api_answers_in_get_clubs_shape(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    made = await ada.ok("create_club", {"name": club_name(), "description": "We read", "topic_ids": [402],
                                        "rules": [{"title": "Be kind", "desc": "Always"}]})
    club_id = made["club_id"]
    assert made["club"]["club_id"] == club_id and made["is_admin"] is True and made["is_member"] is True
    seen = await bob.ok("get_club", {"club_id": club_id, "source_topic_id": None, "slug": None})
    assert SHORT_CLUB <= set(seen["club"]) and seen["club"]["num_members"] == 1
    assert seen["club"]["rules"] == [{"title": "Be kind", "desc": "Always"}]
    assert (seen["is_admin"], seen["is_member"], seen["is_follower"]) == (False, False, False)
    assert (seen["is_pending_accept"], seen["is_pending_approval"]) == (False, False)
    assert seen["member_user_ids"] == [ada.user_id] and seen["invite_link"] is None
    assert seen["topics"] == [{"id": 402, "title": "📚 Books", "abbreviated_title": "Books"}]
    by_get = await bob.ok("get_club", method="GET", query={"club_id": str(club_id)})
    assert by_get["club"] == seen["club"]


async def test_clubs_are_only_for_signed_in_callers(client: httpx.AsyncClient) -> None:
    for endpoint in ("create_club", "get_club", "get_clubs", "search_clubs", "follow_club", "get_club_members"):
        response = await client.post(f"{API}/{endpoint}", json={"club_id": 1, "name": "x"})
        assert response.status_code == 401, endpoint
        assert response.json() == {"detail": "Authentication credentials were not provided."}


async def test_bad_club_input_gets_a_clear_error_and_writes_nothing(people: Any) -> None:
    (ada,) = await people("ada")
    name = club_name()
    assert await ada.fails("create_club", {"description": "no name"})
    assert await ada.fails("create_club", {"name": name, "rules": "none"})
    assert await ada.fails("create_club", {"name": name, "topic_ids": [123456]})
    assert (await ada.ok("get_clubs"))["clubs"] == []
    await ada.ok("create_club", {"name": name})
    assert "already exists" in await ada.fails("create_club", {"name": name.lower()})
    assert await ada.fails("get_club", {"club_id": "abc"})
    assert await ada.fails("get_club", {"club_id": -1})
    assert await ada.fails("get_club", {})
    assert "does not exist" in await ada.fails("get_club", {"club_id": 10**12})
    response = await ada.http.post(f"{API}/get_club", content=b"{not json", headers=ada.headers)
    assert response.status_code == 400 and response.json()["success"] is False


async def test_an_admin_invites_and_the_invitee_accepts(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    added = await ada.ok("add_club_member", {"club_id": club_id, "user_id": bob.user_id, "name": None,
                                             "phone_number": None, "message": "join us", "reason": None})
    assert added["is_pending_accept"] is True
    assert (await bob.ok("get_club", {"club_id": club_id}))["is_pending_accept"] is True
    bell = await bob.ok("get_actionable_notifications")
    assert [(n["type"], n["club_id"]) for n in bell["notifications"]] == [(6, club_id)]

    joined = await bob.ok("accept_club_member_invite", {"club_id": club_id, "invite_code": None})
    assert joined["is_member"] is True and joined["added_by_user_profile"]["user_id"] == ada.user_id
    assert (await bob.ok("get_actionable_notifications"))["count"] == 0
    assert 13 in [n["type"] for n in (await ada.ok("get_notifications"))["notifications"]]
    mine = await bob.ok("get_clubs", {"is_startable_only": False})
    assert [(c["club_id"], c["is_admin"]) for c in mine["clubs"]] == [(club_id, False)]
    assert (await bob.ok("get_clubs", {"is_startable_only": True}))["clubs"] == []


async def test_strangers_neither_join_nor_manage_a_club(people: Any) -> None:
    ada, eve = await people("ada", "eve")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    assert "not been invited" in await eve.fails("accept_club_member_invite", {"club_id": club_id})
    assert await eve.fails("add_club_member", {"club_id": club_id, "user_id": eve.user_id})
    for endpoint, extra in [("update_club_description", {"description": "mine"}),
                            ("update_club_rules", {"rules": []}), ("update_is_community", {"is_community": True}),
                            ("add_club_admin", {"user_id": eve.user_id}), ("add_club_topic", {"topic_id": 101}),
                            ("remove_club_member", {"user_id": ada.user_id}),
                            ("get_club_nominations", {})]:
        assert "admins" in await eve.fails(endpoint, {"club_id": club_id, **extra}), endpoint
    assert (await ada.ok("get_club", {"club_id": club_id}))["club"]["description"] == ""


async def test_admins_change_the_description_rules_and_flags(people: Any) -> None:
    (ada,) = await people("ada")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    await ada.ok("update_club_description", {"club_id": club_id, "description": "About us"})
    await ada.ok("update_club_rules", {"club_id": club_id, "rules": [{"title": "One", "desc": "Two"}]})
    await ada.ok("update_is_follow_allowed", {"club_id": club_id, "is_follow_allowed": False})
    await ada.ok("update_is_membership_private", {"club_id": club_id, "is_membership_private": True})
    await ada.ok("update_is_community", {"club_id": club_id, "is_community": True})
    assert await ada.fails("update_club_rules", {"club_id": club_id, "rules": [{"title": 5}]})
    club = (await ada.ok("get_club", {"club_id": club_id}))["club"]
    assert club["description"] == "About us" and club["rules"] == [{"title": "One", "desc": "Two"}]
    assert (club["is_follow_allowed"], club["is_membership_private"], club["is_community"]) == (False, True, True)


async def test_following_a_club_is_idempotent_and_can_be_refused(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    for _ in range(2):
        await bob.ok("follow_club", {"club_id": club_id, "source_topic_id": None})
    seen = await bob.ok("get_club", {"club_id": club_id})
    assert seen["is_follower"] is True and seen["club"]["num_followers"] == 2
    await bob.ok("unfollow_club", {"club_id": club_id})
    await ada.ok("update_is_follow_allowed", {"club_id": club_id, "is_follow_allowed": False})
    assert "cannot be followed" in await bob.fails("follow_club", {"club_id": club_id})


async def test_members_are_listed_a_page_at_a_time_and_private_lists_stay_private(people: Any) -> None:
    ada, bob, cat, eve = await people("ada", "bob", "cat", "eve")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    for person in (bob, cat):
        await ada.ok("add_club_member", {"club_id": club_id, "user_id": person.user_id})
        await person.ok("accept_club_member_invite", {"club_id": club_id})
    first = await eve.ok("get_club_members", method="GET", query={
        "club_id": club_id, "return_followers": 0, "return_members": 1, "page_size": 2, "page": 1})
    assert (first["count"], first["next"], first["previous"]) == (3, 2, None)
    assert first["users"][0]["user_id"] == ada.user_id and first["users"][0]["is_admin"] is True
    assert first["users"][0]["name"] == "ada"
    second = await eve.ok("get_club_members", method="GET", query={"club_id": club_id, "page_size": 2, "page": 2})
    assert [u["user_id"] for u in second["users"]] == [cat.user_id] and second["next"] is None
    await ada.ok("update_is_membership_private", {"club_id": club_id, "is_membership_private": True})
    assert "private" in await eve.fails("get_club_members", {"club_id": club_id})
    assert (await eve.ok("get_club", {"club_id": club_id}))["member_user_ids"] == []
    assert (await bob.ok("get_club_members", {"club_id": club_id}))["count"] == 3


async def test_a_nomination_waits_for_an_admin(people: Any) -> None:
    ada, bob, cat, dan = await people("ada", "bob", "cat", "dan")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    await ada.ok("add_club_member", {"club_id": club_id, "user_id": bob.user_id})
    await bob.ok("accept_club_member_invite", {"club_id": club_id})
    nominated = await bob.ok("add_club_member", {"club_id": club_id, "user_id": cat.user_id, "message": "a friend"})
    assert nominated["is_pending_approval"] is True
    await bob.ok("add_club_member", {"club_id": club_id, "user_id": dan.user_id})
    listed = await ada.ok("get_club_nominations", {"club_id": club_id, "source_topic_id": None})
    ids = {n["user_profile"]["user_id"]: n["invite_nomination_id"] for n in listed["nominations"]}
    assert set(ids) == {cat.user_id, dan.user_id}
    assert listed["nominations"][0]["nominated_by_user_profile"]["user_id"] == bob.user_id
    await ada.ok("approve_club_nomination", {"club_id": club_id, "invite_nomination_id": ids[cat.user_id]})
    await ada.ok("reject_club_nomination", {"club_id": club_id, "invite_nomination_id": ids[dan.user_id]})
    assert await ada.fails("approve_club_nomination", {"club_id": club_id, "invite_nomination_id": ids[dan.user_id]})
    await cat.ok("accept_club_member_invite", {"club_id": club_id})
    assert (await cat.ok("get_club", {"club_id": club_id}))["is_member"] is True
    assert (await dan.ok("get_club", {"club_id": club_id}))["is_pending_approval"] is False


async def test_the_last_admin_stays_until_another_admin_exists(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    assert "needs an admin" in await ada.fails("remove_club_member", {"club_id": club_id, "user_id": ada.user_id})
    assert "needs an admin" in await ada.fails("remove_club_admin", {"club_id": club_id, "user_id": ada.user_id})
    assert await ada.fails("add_club_admin", {"club_id": club_id, "user_id": bob.user_id})  # not a member yet
    await ada.ok("add_club_member", {"club_id": club_id, "user_id": bob.user_id})
    await bob.ok("accept_club_member_invite", {"club_id": club_id})
    await ada.ok("add_club_admin", {"club_id": club_id, "user_id": bob.user_id})
    await ada.ok("leave_club", {"club_id": club_id})
    assert (await bob.ok("get_club", {"club_id": club_id}))["is_admin"] is True
    assert (await ada.ok("get_club", {"club_id": club_id}))["is_member"] is False


async def test_clubs_are_found_by_topic_and_by_search(people: Any) -> None:
    ada, bob = await people("ada", "bob")
    word = f"qx{secrets.token_hex(4)}"
    first = (await ada.ok("create_club", {"name": f"{word} Jazz Lovers"}))["club_id"]
    second = (await ada.ok("create_club", {"name": club_name(), "description": f"the {word} crowd"}))["club_id"]
    await ada.ok("add_club_topic", {"club_id": first, "topic_id": 504})
    await ada.ok("add_user_topic", {"club_id": second, "topic_id": 504})  # the club form of add_user_topic
    await bob.ok("follow_club", {"club_id": second})
    by_topic = await bob.ok("get_clubs_for_topic", method="GET", query={"topic_id": 504, "page_size": 100,
                                                                         "page": 1})
    found = [c["club_id"] for c in by_topic["clubs"]]
    assert found.index(second) < found.index(first) and by_topic["count"] >= 2
    assert SHORT_CLUB == set(by_topic["clubs"][0])
    searched = await bob.ok("search_clubs", {"query": word, "cofollows_only": False, "followers_only": False,
                                             "following_only": False})
    assert [c["club_id"] for c in searched["clubs"]] == [first, second] and searched["count"] == 2
    followed = await bob.ok("search_clubs", {"query": word, "following_only": True})
    assert [(c["club_id"], c["is_follower"]) for c in followed["clubs"]] == [(second, True)]
    assert (await bob.ok("search_clubs", {"query": word, "page_size": 1}))["next"] == 2
    await ada.ok("remove_club_topic", {"club_id": first, "topic_id": 504})
    assert await bob.fails("get_clubs_for_topic", {"topic_id": "x"})
    assert await bob.fails("search_clubs", {"query": {"$ne": 1}})


async def test_contacts_who_are_here_are_suggested_for_club_invites(people: Any) -> None:
    ada, bob, cat = await people("ada", "bob", "cat")
    club_id = (await ada.ok("create_club", {"name": club_name()}))["club_id"]
    contacts = [{"name": "Bobby", "phone_number": bob.phone}, {"name": "Cat", "phone_number": cat.phone},
                {"name": "Nobody", "phone_number": "+16505550123"}, {"name": "Junk", "phone_number": "12"}]
    found = await ada.ok("get_suggested_club_invites", {"upload_contacts": True, "contacts": contacts})
    assert [(s["user_profile"]["user_id"], s["name"]) for s in found["suggested_invites"]] == [
        (bob.user_id, "Bobby"), (cat.user_id, "Cat")]
    await ada.ok("add_club_member", {"club_id": club_id, "user_id": bob.user_id})
    await bob.ok("accept_club_member_invite", {"club_id": club_id})
    for_club = await ada.ok("get_suggested_club_invites", {"club_id": club_id})
    assert [s["user_profile"]["user_id"] for s in for_club["suggested_invites"]] == [cat.user_id]
    assert (await cat.ok("get_suggested_club_invites", {}))["suggested_invites"] == []


async def test_waitlisted_accounts_neither_make_nor_join_clubs_and_events(waitlist_app: Any, signer: Any) -> None:
    app, container = waitlist_app
    waiting = await signer(app, container, "wait")
    try:
        assert (await waiting.ok("check_waitlist_status"))["is_waitlisted"] is True
        for endpoint, body in [("create_club", {"name": club_name()}), ("follow_club", {"club_id": 1}),
                               ("accept_club_member_invite", {"club_id": 1}),
                               ("create_event", {"name": "x", "time_start_epoch": 4102444800})]:
            message = await waiting.fails(endpoint, body)
            assert message == "Your account is waitlisted. Please contact us if this is in error.", endpoint
        assert (await waiting.ok("get_all_topics"))["topics"]
    finally:
        await waiting.http.aclose()
