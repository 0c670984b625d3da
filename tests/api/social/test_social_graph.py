"""The follow graph, blocks, suggestions, presence and user search."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from townhall.container import Container
from townhall.core.accounts.tables import users
from townhall.core.clock import now

from .conftest import SignIn, unique_username


async def test_following_notifies_once_and_shows_on_both_profiles(new_member: SignIn) -> None:
    alice, bob = await new_member(name="Alice"), await new_member(name="Bob")
    await alice.ok("follow", {"user_id": bob.user_id, "source": 4, "user_ids": None, "source_topic_id": None})
    await alice.ok("follow", {"user_id": bob.user_id})  # again: no second notification
    notes = (await bob.ok("get_notifications", query={"page_size": 20, "page": 1}, method="GET"))
    assert notes["count"] == 1 and notes["next"] is None and notes["previous"] is None
    note = notes["notifications"][0]
    assert note["type"] == 1 and note["user_profile"]["user_id"] == alice.user_id and note["is_unread"] is True
    assert (await bob.ok("get_notifications"))["notifications"][0]["is_unread"] is False  # seen now
    bob_seen_by_alice = (await alice.ok("get_profile", {"user_id": bob.user_id}))["user_profile"]
    assert bob_seen_by_alice["num_followers"] == 1 and bob_seen_by_alice["follows_me"] is False
    alice_seen_by_bob = (await bob.ok("get_profile", {"user_id": alice.user_id}))["user_profile"]
    assert alice_seen_by_bob["follows_me"] is True and alice_seen_by_bob["num_following"] == 1
    following = await alice.ok("get_following", query={"user_id": alice.user_id, "page_size": 50, "page": 1},
                               method="GET")
    assert [u["user_id"] for u in following["users"]] == [bob.user_id] and following["count"] == 1
    followers = await alice.ok("get_followers", {"user_id": bob.user_id})
    assert [u["user_id"] for u in followers["users"]] == [alice.user_id]
    await alice.ok("unfollow", {"user_id": bob.user_id})
    assert (await alice.ok("get_following"))["users"] == []


async def test_follow_refuses_yourself_and_unknown_users(new_member: SignIn) -> None:
    alice = await new_member()
    own = await alice.call("follow", {"user_id": alice.user_id})
    assert own.status_code == 400 and own.json()["success"] is False
    nobody = await alice.call("follow", {"user_id": 987_654_321})
    assert nobody.status_code == 400 and nobody.json()["error_message"] == "That user does not exist."


async def test_lists_paginate_with_page_numbers(new_member: SignIn) -> None:
    star = await new_member()
    fans = [await new_member() for _ in range(5)]
    for fan in fans:
        await fan.ok("follow", {"user_id": star.user_id})
    first = await star.ok("get_followers", {"user_id": star.user_id, "page_size": 2})
    assert (first["count"], first["next"], first["previous"]) == (5, 2, None)
    last = await star.ok("get_followers", {"user_id": star.user_id, "page_size": 2, "page": 3})
    assert (len(last["users"]), last["next"], last["previous"]) == (1, None, 2)
    seen = {u["user_id"] for p in (1, 2, 3)
            for u in (await star.ok("get_followers", {"user_id": star.user_id, "page_size": 2, "page": p}))["users"]}
    assert seen == {f.user_id for f in fans}


async def test_follow_multiple_and_mutual_follows(new_member: SignIn) -> None:
    me, friend, target = await new_member(), await new_member(), await new_member()
    await me.ok("follow_multiple", {"user_ids": [friend.user_id, target.user_id, me.user_id], "source": 7})
    await friend.ok("follow", {"user_id": target.user_id})
    mutual = await me.ok("get_mutual_follows", query={"user_id": target.user_id}, method="GET")
    assert [u["user_id"] for u in mutual["users"]] == [friend.user_id]
    profile = (await me.ok("get_profile", {"user_id": target.user_id}))["user_profile"]
    assert profile["mutual_follows_count"] == 1 and profile["mutual_follows"][0]["user_id"] == friend.user_id


async def test_blocking_removes_follows_and_keeps_the_two_apart(new_member: SignIn) -> None:
    alice, bob = await new_member(), await new_member()
    name = unique_username("blk")
    await bob.ok("update_username", {"username": name})
    await alice.ok("follow", {"user_id": bob.user_id})
    await bob.ok("follow", {"user_id": alice.user_id})
    await bob.ok("block", {"user_id": alice.user_id})
    assert (await alice.ok("get_following"))["users"] == []
    refused = await alice.call("follow", {"user_id": bob.user_id})
    assert refused.status_code == 400
    hidden = await alice.call("get_profile", {"user_id": bob.user_id})
    assert hidden.status_code == 400
    assert (await alice.ok("search_users", {"query": name}))["users"] == []
    all_ids = {u["user_id"] for u in (await alice.ok("get_suggested_follows_all", {"page_size": 200}))["users"]}
    assert bob.user_id not in all_ids
    assert alice.user_id in (await bob.ok("me", {"return_blocked_ids": True}))["blocked_ids"]
    await bob.ok("unblock", {"user_id": alice.user_id})
    await alice.ok("follow", {"user_id": bob.user_id})


async def test_suggestions_are_ranked_by_the_graph_and_ignorable(new_member: SignIn) -> None:
    me, friend = await new_member(), await new_member()
    popular, fan_of_me, stranger = await new_member(), await new_member(), await new_member()
    await me.ok("follow", {"user_id": friend.user_id})
    await friend.ok("follow", {"user_id": popular.user_id})
    await fan_of_me.ok("follow", {"user_id": me.user_id})
    ranked = [u["user_id"] for u in (await me.ok("get_suggested_follows_all",
                                                  query={"in_onboarding": "true", "page_size": 200},
                                                  method="GET"))["users"]]
    assert friend.user_id not in ranked and me.user_id not in ranked
    assert ranked.index(fan_of_me.user_id) < ranked.index(popular.user_id) < ranked.index(stranger.user_id)
    await me.ok("ignore_suggested_follow", {"user_id": fan_of_me.user_id})
    again = [u["user_id"] for u in (await me.ok("get_suggested_follows_all", {"page_size": 200}))["users"]]
    assert fan_of_me.user_id not in again


async def test_friend_suggestions_come_from_uploaded_contacts(new_member: SignIn) -> None:
    me, contact, other = await new_member(), await new_member(), await new_member()
    answer = await me.ok("get_suggested_follows_friends_only", {
        "club_id": None, "upload_contacts": True,
        "contacts": [{"name": "C", "phone_number": contact.phone}, {"phone_number": "garbage"}]})
    assert [u["user_id"] for u in answer["users"]] == [contact.user_id]
    assert other.user_id not in [u["user_id"] for u in answer["users"]]


async def test_similar_suggestions_follow_the_people_who_follow_someone(new_member: SignIn) -> None:
    me, target, fan, also_liked, unrelated = [await new_member() for _ in range(5)]
    await fan.ok("follow", {"user_id": target.user_id})
    await fan.ok("follow", {"user_id": also_liked.user_id})
    similar = [u["user_id"] for u in (await me.ok("get_suggested_follows_similar",
                                                   {"user_id": target.user_id, "username": None}))["users"]]
    assert similar[0] == also_liked.user_id and target.user_id not in similar and unrelated.user_id not in similar


async def test_online_friends_are_the_followed_who_were_active_lately(new_member: SignIn, container: Container) -> None:
    me, active, idle = await new_member(), await new_member(), await new_member()
    await me.ok("follow_multiple", {"user_ids": [active.user_id, idle.user_id]})
    await active.ok("me")
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == idle.user_id)
                               .values(last_active=now() - timedelta(hours=2)))
    online = await me.ok("get_online_friends", {})
    assert [u["user_id"] for u in online["users"]] == [active.user_id] and online["clubs"] == []


async def test_search_finds_names_usernames_and_bios_best_first_with_filters(new_member: SignIn) -> None:
    tag = unique_username("zq")
    exact = await new_member(username=tag, name="Exact Match")
    named = await new_member(name=f"{tag} Person")
    bio = await new_member(name="Bio Person")
    await bio.ok("update_bio", {"bio": f"I love {tag} things"})
    searcher = await new_member()
    found = await searcher.ok("search_users", {"query": tag, "cofollows_only": False, "following_only": False,
                                               "followers_only": False})
    assert [u["user_id"] for u in found["users"]] == [exact.user_id, named.user_id, bio.user_id]
    assert found["count"] == 3
    await searcher.ok("follow", {"user_id": named.user_id})
    only = await searcher.ok("search_users", {"query": tag, "following_only": True})
    assert [u["user_id"] for u in only["users"]] == [named.user_id]
    await named.ok("follow", {"user_id": searcher.user_id})
    co = await searcher.ok("search_users", {"query": tag.upper(), "cofollows_only": True})
    assert [u["user_id"] for u in co["users"]] == [named.user_id]
    wildcard = await searcher.ok("search_users", {"query": "%_%"})  # no words: nothing, not everyone
    assert (wildcard["users"], wildcard["count"]) == ([], 0)
    paged = await searcher.ok("search_users", {"query": tag, "page_size": 1, "page": 2})
    assert paged["users"][0]["user_id"] == named.user_id and (paged["next"], paged["previous"]) == (3, 1)


async def test_follow_notification_settings_per_user(new_member: SignIn) -> None:
    me, other = await new_member(), await new_member()
    refused = await me.call("update_follow_notifications", {"user_id": other.user_id, "notification_type": 1})
    assert refused.status_code == 400
    await me.ok("follow", {"user_id": other.user_id})
    await me.ok("update_follow_notifications", {"user_id": other.user_id, "notification_type": 1})
    assert (await me.ok("get_profile", {"user_id": other.user_id}))["user_profile"]["notification_type"] == 1


async def test_similar_suggestions_include_people_sharing_a_club(new_member: SignIn, container: Container) -> None:
    from townhall.core.communities import service as communities

    me, target, clubmate = await new_member(), await new_member(), await new_member()
    async with container.uow() as uow:
        club = await communities.do_create_club(uow, target.user_id, name=f"Similar {unique_username()}")
        await communities.do_add_member(uow, target.user_id, club.id, clubmate.user_id)
        await communities.do_accept_invite(uow, clubmate.user_id, club.id)
    answer = await me.ok("get_suggested_follows_similar", {"user_id": target.user_id})
    assert clubmate.user_id in [u["user_id"] for u in answer["users"]]


async def test_contacts_sent_without_upload_contacts_are_used_but_not_kept(new_member: SignIn) -> None:
    me, contact = await new_member(), await new_member()
    once = await me.ok("get_suggested_follows_friends_only", {
        "upload_contacts": False, "contacts": [{"phone_number": contact.phone}]})
    assert [u["user_id"] for u in once["users"]] == [contact.user_id]
    assert (await me.ok("get_suggested_follows_friends_only", {"contacts": []}))["users"] == []
    invite_once = await me.ok("get_suggested_invites", {"upload_contacts": False,
                                                        "contacts": [{"phone_number": "+14155550177"}]})
    assert [s["phone_number"] for s in invite_once["suggested_invites"]] == ["+14155550177"]
    assert (await me.ok("get_suggested_invites", {}))["suggested_invites"] == []
