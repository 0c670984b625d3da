"""Notifications: the bell, actionable notifications and notification settings."""

from __future__ import annotations

from townhall.container import Container
from townhall.core.social import notifications

from .conftest import SignIn


async def test_notifications_written_by_other_domains_show_with_their_type(
    new_member: SignIn, container: Container
) -> None:
    me, actor = await new_member(), await new_member(name="Club Admin")
    async with container.uow() as uow:
        await notifications.do_notify(uow, user_id=me.user_id, kind=notifications.INVITED_TO_CLUB,
                                      actor_id=actor.user_id, club_id=42, message="invited you to a club")
        await notifications.do_notify(uow, user_id=me.user_id, kind=notifications.EVENT_GUEST, event_id=7)
        await notifications.do_notify(uow, user_id=actor.user_id, kind=notifications.FOLLOWS_YOU,
                                      actor_id=actor.user_id)  # never of your own doing
    me_now = await me.ok("me")
    assert me_now["has_unread_notifications"] is True and me_now["actionable_notifications_count"] == 1
    listed = (await me.ok("get_notifications"))["notifications"]
    assert [(n["type"], n["event_id"], n["club_id"]) for n in listed] == [(16, 7, None), (6, None, 42)]
    assert listed[1]["user_profile"]["name"] == "Club Admin" and listed[1]["message"] == "invited you to a club"
    assert (await actor.ok("get_notifications"))["count"] == 0
    actionable = await me.ok("get_actionable_notifications", method="GET")
    assert actionable["count"] == 1 and actionable["next"] is None
    item = actionable["notifications"][0]
    assert item["type"] == 6 and item["club_id"] == 42
    await me.ok("ignore_actionable_notification", {"actionable_notification_id": item["actionable_notification_id"]})
    assert (await me.ok("get_actionable_notifications"))["notifications"] == []
    assert (await me.ok("me"))["actionable_notifications_count"] == 0


async def test_nobody_ignores_another_users_notifications(new_member: SignIn, container: Container) -> None:
    me, other = await new_member(), await new_member()
    async with container.uow() as uow:
        await notifications.do_notify(uow, user_id=me.user_id, kind=notifications.INVITED_TO_CLUB, club_id=1)
    item = (await me.ok("get_actionable_notifications"))["notifications"][0]
    refused = await other.call("ignore_actionable_notification",
                               {"actionable_notification_id": item["actionable_notification_id"]})
    assert refused.status_code == 400 and refused.json()["success"] is False
    assert (await me.ok("get_actionable_notifications"))["count"] == 1


async def test_notification_settings_default_and_update(new_member: SignIn) -> None:
    me = await new_member()
    defaults = await me.ok("get_settings", method="GET")
    assert defaults == {"success": True, "notifications_enable_trending": True, "notifications_frequency": 3,
                        "notifications_is_paused": False, "notifications_paused_until": None}
    # what the app sends during onboarding: -1 means "leave it"
    await me.ok("update_notifications", {"apn_token": None, "enable_trending": -1, "frequency": -1,
                                         "is_sandbox": False, "pause_till": -1, "system_enabled": 2})
    assert (await me.ok("get_settings")) == defaults
    await me.ok("update_notifications", {"enable_trending": False, "frequency": 1, "pause_till": 3600})
    paused = await me.ok("get_settings")
    assert paused["notifications_enable_trending"] is False and paused["notifications_frequency"] == 1
    assert paused["notifications_is_paused"] is True
    assert (await me.ok("get_notifications"))["disabled"] is True
    await me.ok("update_notifications", {"pause_till": 0})
    assert (await me.ok("get_settings"))["notifications_is_paused"] is False
    refused = await me.call("update_notifications", {"frequency": 9})
    assert refused.status_code == 400


async def test_a_club_invite_notification_carries_the_club(new_member: SignIn, container: Container) -> None:
    from townhall.core.communities import service as communities

    admin, invitee = await new_member(name="Admin"), await new_member()
    async with container.uow() as uow:
        club = await communities.do_create_club(uow, admin.user_id, name=f"Notified {invitee.user_id}x{admin.user_id}")
        await communities.do_add_member(uow, admin.user_id, club.id, invitee.user_id)
    item = (await invitee.ok("get_actionable_notifications"))["notifications"][0]
    assert item["type"] == 6 and item["club"]["club_id"] == club.id and item["club"]["name"] == club.name
    assert item["user_profile"]["user_id"] == admin.user_id
