"""App housekeeping endpoints, invites from contacts, the moderation queue and the CLI."""

from __future__ import annotations

import json

from fastapi import FastAPI

from townhall.config import Settings
from townhall.container import Container

from .conftest import SignIn, random_phone, sign_in


async def test_housekeeping_endpoints_answer_the_seed_shapes(new_member: SignIn) -> None:
    me = await new_member()
    assert await me.ok("check_for_update", query={"is_testflight": 1}, method="GET") == {"success": True,
                                                                                         "has_update": False}
    assert (await me.ok("get_release_notes"))["should_display"] is False
    assert await me.ok("get_welcome_channel", method="GET") == {"success": True, "is_empty": True}
    await me.ok("record_action_trails", {"action_trails": [
        {"blob_data": {}, "client_time_created": 1612971962, "trail_type": "app_opened"}]})


async def test_suggested_invites_rank_contacts_who_are_not_here_yet(new_member: SignIn) -> None:
    me, here = await new_member(), await new_member()
    wanted, lonely = random_phone(), random_phone()
    other = await new_member()
    await other.ok("upload_contacts", {"contacts": [{"phone_number": wanted}]})
    answer = await me.ok("get_suggested_invites", {"club_id": None, "upload_contacts": True, "contacts": [
        {"name": "Lonely", "phone_number": lonely}, {"name": "Wanted", "phone_number": wanted},
        {"name": "Here", "phone_number": here.phone}]})
    assert [s["phone_number"] for s in answer["suggested_invites"]] == [wanted, lonely]
    assert answer["suggested_invites"][0] == {"phone_number": wanted, "name": "Wanted", "in_app": False,
                                              "is_invited": False, "num_friends": 1}
    assert answer["num_invites"] > 0


async def test_incidents_go_to_the_moderation_queue_the_cli_lists(
    new_member: SignIn, settings: Settings, run_townhall: object
) -> None:
    reporter, offender = await new_member(), await new_member()
    await reporter.ok("report_incident", {"user_id": offender.user_id, "channel": "abcdefgh",
                                          "incident_type": 3, "incident_description": "was rude",
                                          "email": "r@example.org"})
    missing = await reporter.call("report_incident", {"user_id": 987_654_321, "incident_description": "x"})
    assert missing.status_code == 400
    listed = run_townhall("incidents", "--json", "--data-dir", str(settings.data_dir),  # type: ignore[operator]
                          env={"TOWNHALL_DATABASE_URL": settings.resolved_database_url()})
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert any(r["user_id"] == offender.user_id and r["description"] == "was rude" and r["channel"] == "abcdefgh"
               for r in rows)


async def test_the_cli_prints_the_last_code_and_admits_and_bans_users(
    waitlist_app: tuple[FastAPI, Container], settings: Settings, run_townhall: object
) -> None:
    app, container = waitlist_app
    env = {"TOWNHALL_DATABASE_URL": settings.resolved_database_url()}
    cli = lambda *args: run_townhall(*args, "--data-dir", str(settings.data_dir), env=env)  # type: ignore[operator]  # noqa: E731
    waiting = await sign_in(app, container)
    last = cli("sms", "last", waiting.phone).stdout
    assert "verification code is" in last
    listed = [json.loads(line) for line in cli("users", "list", "--waitlisted", "--json", "--limit", "10000")
              .stdout.splitlines()]
    assert any(u["user_id"] == waiting.user_id and u["state"] == "waitlisted" and u["phone"] == waiting.phone
               for u in listed)
    assert f"{waiting.user_id}: let in" in cli("users", "admit", str(waiting.user_id)).stdout
    assert (await waiting.ok("check_waitlist_status"))["is_waitlisted"] is False
    assert f"{waiting.user_id}: banned" in cli("users", "ban", str(waiting.user_id)).stdout
    assert (await waiting.call("me")).status_code == 401  # sessions ended
    again = await waiting.http.post("/social/api/start_phone_number_auth", json={"phone_number": waiting.phone})
    assert again.json()["is_blocked"] is True
    assert f"{waiting.user_id}: unbanned" in cli("users", "ban", "--undo", str(waiting.user_id)).stdout


def test_every_social_command_has_help(run_townhall: object) -> None:
    for path in (("sms",), ("sms", "last"), ("users",), ("users", "list"), ("users", "admit"), ("users", "ban"),
                 ("incidents",)):
        out = run_townhall(*path, "--help").stdout  # type: ignore[operator]
        assert "Usage:" in out


def test_demo_seeds_people_clubs_and_events_and_can_run_again(run_townhall: object, tmp_path: object) -> None:
    first = run_townhall("demo", "--data-dir", str(tmp_path)).stdout  # type: ignore[operator]
    assert "@ada" in first and "+12025550101" in first and "Clubs: 3" in first
    second = run_townhall("demo", "--data-dir", str(tmp_path)).stdout  # type: ignore[operator]
    assert second == first
    listed = run_townhall("users", "list", "--json", "--data-dir", str(tmp_path)).stdout  # type: ignore[operator]
    assert len(listed.splitlines()) == 6
