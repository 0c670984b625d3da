"""The social surface's room endpoints over HTTP: the seed's answer shapes, every endpoint, other
users' rooms, the error shapes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from townhall.container import Container

People = Any
Person = Any

ROOM_FIELDS = {"channel", "channel_id", "topic", "is_private", "is_social_mode", "club", "users",
               "is_handraise_enabled", "handraise_permission", "creator_user_profile_id", "url"}
USER_FIELDS = {"user_id", "name", "username", "photo_url", "first_name", "is_speaker", "is_moderator",
               "is_invited_as_speaker", "is_followed_by_speaker", "is_new", "time_joined_as_speaker"}
GONE = "That room is no longer available 👋🏼\nTry starting a new one instead?"


async def start(person: Person, **fields: Any) -> dict[str, Any]:
    body = {"club_id": None, "event_id": None, "is_private": False, "is_social_mode": False, "topic": None,
            "user_ids": [], **fields}
    return await person.ok("create_channel", body)


def users_of(room: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {u["user_id"]: u for u in room["users"]}


async def test_create_and_join_answer_the_room_with_media_and_pubnub_credentials(people: People) -> None:
    ada, bob = await people("Ada Lovelace", "Bob")
    made = await start(ada, topic="Engines")
    assert ROOM_FIELDS <= set(made) and made["topic"] == "Engines" and made["is_private"] is False
    assert made["creator_user_profile_id"] == ada.user_id and made["url"].endswith(f"/room/{made['channel']}")
    assert made["token"].startswith("null:") and "publish=true" in made["token"]
    assert made["pubnub_enable"] is True and len(made["pubnub_token"]) >= 32
    assert made["pubnub_heartbeat_value"] == 60 and made["pubnub_heartbeat_interval"] == 29
    assert made["pubnub_origin"] and "/" not in made["pubnub_origin"]
    (me,) = made["users"]
    assert USER_FIELDS <= set(me) and me["is_moderator"] and me["is_speaker"] and me["first_name"] == "Ada"
    assert me["time_joined_as_speaker"] and me["is_new"] is True

    joined = await bob.ok("join_channel", {"channel": made["channel"], "attribution_source": "feed",
                                           "attribution_details": "eyJpc19leHBsb3JlIjpmYWxzZSwicmFuayI6MX0="})
    assert joined["channel_id"] == made["channel_id"] and "publish=false" in joined["token"]
    assert joined["pubnub_token"] != made["pubnub_token"]
    bob_in = users_of(joined)[bob.user_id]
    assert bob_in["is_speaker"] is False and bob_in["time_joined_as_speaker"] is None
    assert [u["user_id"] for u in joined["users"]] == [ada.user_id, bob.user_id]  # moderators first
    # get_channel: the same room without credentials; GET with a query string works too
    got = await bob.ok("get_channel", method="GET", query={"channel": made["channel"]})
    assert "token" not in got and "pubnub_token" not in got and len(got["users"]) == 2


async def test_the_feed_and_channel_lists_show_rooms_one_may_see(people: People) -> None:
    ada, bob, cat = await people("Ada", "Bob", "Cat")
    public = await start(ada, topic="open to all")
    private = await start(bob, topic="secret", is_private=True, user_ids=[ada.user_id])
    listed = await cat.ok("get_channels", method="GET", query={"page_size": 200})
    codes = [c["channel"] for c in listed["channels"]]
    assert public["channel"] in codes and private["channel"] not in codes
    assert {"count", "next", "previous", "events"} <= set(listed)
    item = next(c for c in listed["channels"] if c["channel"] == public["channel"])
    assert item["num_all"] == 1 and item["num_speakers"] == 1 and item["users"][0]["user_id"] == ada.user_id
    for_ada = await ada.ok("get_channels", query={"page_size": 200})
    assert private["channel"] in [c["channel"] for c in for_ada["channels"]]
    feed = await cat.ok("get_feed", method="GET")
    assert public["channel"] in [i["channel"]["channel"] for i in feed["items"]]
    assert await cat.fails("join_channel", {"channel": private["channel"]}) == GONE
    # hiding a room takes it off one's lists
    await cat.ok("hide_channel", {"channel": public["channel"], "hide": True})
    listed = await cat.ok("get_channels", query={"page_size": 200})
    assert public["channel"] not in [c["channel"] for c in listed["channels"]]
    # paging
    page = await ada.ok("get_channels", query={"page_size": 1})
    assert len(page["channels"]) == 1 and page["count"] >= 2 and page["next"] == 2


async def test_hands_speaker_invitations_and_moderation(people: People) -> None:
    ada, bob, cat = await people("Ada", "Bob", "Cat")
    room = await start(ada)
    code = room["channel"]
    await bob.ok("join_channel", {"channel": code})
    await cat.ok("join_channel", {"channel": code})
    await bob.ok("audience_reply", {"channel": code, "raise_hands": True, "unraise_hands": False})
    suggested = await ada.ok("get_suggested_speakers", {"channel": code})
    assert [u["user_id"] for u in suggested["users"]] == [bob.user_id]
    await ada.ok("invite_speaker", {"channel": code, "user_id": bob.user_id})
    assert users_of(await ada.ok("get_channel", {"channel": code}))[bob.user_id]["is_invited_as_speaker"]
    accepted = await bob.ok("accept_speaker_invite", {"channel": code, "user_id": ada.user_id})
    assert "publish=true" in accepted["token"] and accepted["pubnub_token"]
    assert users_of(await ada.ok("get_channel", {"channel": code}))[bob.user_id]["is_speaker"] is True
    await ada.ok("mute_speaker", {"channel": code, "user_id": bob.user_id})
    await ada.ok("make_moderator", {"channel": code, "user_id": bob.user_id})
    assert users_of(await cat.ok("get_channel", {"channel": code}))[bob.user_id]["is_moderator"] is True
    # cat: invited then uninvited; rejects a second invitation
    await ada.ok("invite_speaker", {"channel": code, "user_id": cat.user_id})
    await ada.ok("uninvite_speaker", {"channel": code, "user_id": cat.user_id})
    await bob.ok("invite_speaker", {"channel": code, "user_id": cat.user_id})
    await cat.ok("reject_speaker_invite", {"channel": code, "user_id": bob.user_id})
    assert await cat.fails("accept_speaker_invite", {"channel": code, "user_id": bob.user_id})
    # settings
    changed = await ada.ok("change_handraise_settings", {"channel": code, "is_enabled": False,
                                                         "handraise_permission": 1})
    assert changed["is_handraise_enabled"] is False
    assert await cat.fails("audience_reply", {"channel": code, "raise_hands": True})
    # cat cannot moderate
    assert await cat.fails("end_channel", {"channel": code}) == "Only the room's moderators can do that."
    assert await cat.fails("block_from_channel", {"channel": code, "user_id": bob.user_id})
    await ada.ok("block_from_channel", {"channel": code, "user_id": cat.user_id})
    assert (await cat.ok("active_ping", {"channel": code, "chanel_id": None}))["should_leave"] is True
    assert await cat.fails("join_channel", {"channel": code}) == "You can't join this room."
    await ada.ok("end_channel", {"channel": code, "channel_id": None})
    assert (await bob.ok("active_ping", {"channel": code}))["should_leave"] is True
    assert await bob.fails("get_channel", {"channel": code}) == GONE


async def test_leaving_as_the_last_moderator_ends_the_room(people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    code = (await start(ada))["channel"]
    await bob.ok("join_channel", {"channel": code})
    assert (await bob.ok("active_ping", {"channel": code}))["should_leave"] is False
    await bob.ok("leave_channel", {"channel": code})
    await bob.ok("leave_channel", {"channel": code})  # again: fine
    await ada.ok("leave_channel", {"channel": code})
    assert await bob.fails("join_channel", {"channel": code}) == GONE


async def test_social_and_private_rooms_open_up(people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    room = await start(ada, is_private=True)
    assert room["is_private"] is True
    assert await bob.fails("get_channel", {"channel": room["channel"]}) == GONE
    social = await ada.ok("make_channel_social", {"channel": room["channel"]})
    assert social["is_social_mode"] is True and social["is_private"] is False
    opened = await ada.ok("make_channel_public", {"channel": room["channel"], "channel_id": room["channel_id"]})
    assert opened["is_social_mode"] is False
    await bob.ok("get_channel", {"channel": room["channel"]})
    assert await bob.fails("make_channel_public", {"channel": room["channel"]})


async def test_room_invitations_over_http(people: People, container: Container) -> None:
    ada, bob, cat = await people("Ada", "Bob", "Cat")
    room = await start(ada, is_private=True)
    invited = await ada.ok("invite_to_new_channel", {"user_id": bob.user_id, "channel": room["channel"]})
    invite_id = invited["channel_invite_id"]
    assert await cat.fails("accept_new_channel_invite", {"channel_invite_id": invite_id})
    accepted = await bob.ok("accept_new_channel_invite", {"channel_invite_id": invite_id})
    assert accepted["channel"] == room["channel"]
    await bob.ok("join_channel", {"channel": room["channel"]})
    again = await ada.ok("invite_to_existing_channel", {"channel": room["channel"], "user_id": cat.user_id})
    await ada.ok("cancel_new_channel_invite", {"channel_invite_id": again["channel_invite_id"]})
    assert await cat.fails("join_channel", {"channel": room["channel"]}) == GONE
    third = await ada.ok("invite_to_existing_channel", {"channel": room["channel"], "user_id": cat.user_id})
    await cat.ok("reject_new_channel_invite", {"channel_invite_id": third["channel_invite_id"]})
    notes = await bob.ok("get_notifications", query={"page_size": 20})
    assert 9 in [n["type"] for n in notes["notifications"]]


async def test_online_friends_say_which_room_a_friend_is_in(people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    await bob.ok("follow", {"user_id": ada.user_id})
    room = await start(ada, topic="here")
    friends = await bob.ok("get_online_friends", {})
    ada_item = next(u for u in friends["users"] if u["user_id"] == ada.user_id)
    assert ada_item["channel"] == room["channel"] and ada_item["topic"] == "here"


async def test_create_channel_targets_list_the_callers_clubs(people: People) -> None:
    (ada,) = await people("Ada")
    made = await ada.ok("create_club", {"name": "Rooms Club", "description": "d"})
    targets = await ada.ok("get_create_channel_targets", {})
    assert made["club_id"] in [c["club_id"] for c in targets["clubs"]]
    room = await start(ada, club_id=made["club_id"], topic="club talk")
    assert room["club"]["club_id"] == made["club_id"] and room["is_club_admin"] is True


async def test_waitlisted_users_cannot_create_rooms(waitlist_app: tuple[FastAPI, Container],
                                                    signer: Any) -> None:
    app, built = waitlist_app
    waiting = await signer(app, built, "Wanda")
    try:
        assert await waiting.fails("create_channel", {"topic": "x"}) == \
            "Your account is waitlisted. Please contact us if this is in error."
    finally:
        await waiting.http.aclose()
