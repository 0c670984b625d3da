"""GET /experts/v1/me and /members: the full member object of Clarity's example, looked up every
way the seed names, statistics from real calls, page views; the expert settings a member edits."""

from __future__ import annotations

import re

import httpx

from tests.api.experts.conftest import NewMember, error_of
from tests.core.experts.factories import completed_call
from townhall.container import Container

FULL_FIELDS = {
    "amount_generated_for_charity", "average_call_duration", "average_response_time", "bio", "charity_logo",
    "charity_name", "charity_url", "clarity_url", "created_at", "expertise_body", "facebook_profile_url",
    "first_name", "gender", "hourly_rate", "id", "image_url", "last_active_at", "last_name", "linkedin_profile_url",
    "location", "profile_page_views_count", "public_social_connections", "screen_name", "timezone",
    "timezone_label", "timezone_offset", "total_calls", "twitter_profile_url", "updated_at", "verified_phone_number",
}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_me_answers_the_full_member_object_of_the_seed(new_member: NewMember) -> None:
    dan = await new_member(name="Dan Martell", bio="Canadian Entrepreneur.", twitter="danmartell",
                           hourly_rate="0", expertise="Startups", location="San Francisco, California",
                           timezone="America/Halifax")
    body = await dan.ok("GET", "/me")
    assert set(body) == FULL_FIELDS
    assert body["id"] == dan.id and body["screen_name"] == dan.username
    assert (body["first_name"], body["last_name"]) == ("Dan", "Martell")
    assert body["hourly_rate"] == "0.0"
    assert body["bio"] == "Canadian Entrepreneur." and body["expertise_body"] == "Startups"
    assert body["location"] == "San Francisco, California"
    assert body["timezone"] == "America/Halifax" and body["timezone_label"] in ("ADT", "AST")
    assert body["timezone_offset"] in (-3.0, -4.0)
    assert body["clarity_url"].endswith(f"/experts/{dan.username}")
    assert body["twitter_profile_url"] == "https://twitter.com/danmartell"
    assert body["public_social_connections"] == {"facebook": False, "linkedin": False, "twitter": True}
    assert body["verified_phone_number"] is True
    assert body["total_calls"] == 0 and body["average_call_duration"] == 0 and body["average_response_time"] == 0
    assert body["amount_generated_for_charity"] == 0.0
    assert TIME.match(body["created_at"]) and TIME.match(body["updated_at"])


async def test_a_member_without_expert_settings_is_shown_with_defaults(new_member: NewMember) -> None:
    plain = await new_member()
    body = await plain.ok("GET", "/me")
    assert body["hourly_rate"] == "0.0" and body["expertise_body"] == "" and body["location"] == ""
    assert (body["timezone"], body["timezone_label"], body["timezone_offset"]) == ("UTC", "UTC", 0.0)
    assert body["charity_name"] is None and body["twitter_profile_url"] is None


async def test_members_are_found_by_id_screen_name_twitter_and_email(new_member: NewMember) -> None:
    me = await new_member()
    ada = await new_member(name="Ada Lovelace", twitter="AdaL", email="ada@example.org")
    for path in (f"/members/{ada.id}", f"/members/{ada.username}", f"/members?id={ada.id}",
                 f"/members?id={ada.username}", "/members?twitter=adal", "/members?twitter=@AdaL",
                 "/members?email=ADA@example.org"):
        assert (await me.ok("GET", path))["id"] == ada.id, path


async def test_members_without_a_parameter_is_the_current_member(new_member: NewMember) -> None:
    me = await new_member()
    assert (await me.ok("GET", "/members"))["id"] == me.id


async def test_an_unknown_member_is_a_404_in_the_surface_error_json(new_member: NewMember) -> None:
    me = await new_member()
    for path in ("/members/999999999", "/members/nobody_here_x", "/members?twitter=nobody_here_x",
                 "/members?email=nobody@nowhere.example"):
        assert error_of(await me.call("GET", path)) == (404, "not_found"), path


async def test_member_calls_need_a_valid_token(new_member: NewMember) -> None:
    me = await new_member()
    response = await me.http.get("/experts/v1/me", params={"oauth_token": "not-a-token"})
    assert error_of(response) == (401, "invalid_token")
    assert (await me.http.get("/experts/v1/me", params={"oauth_token": me.token})).json()["id"] == me.id


async def test_profile_page_views_count_views_by_other_members_only(new_member: NewMember) -> None:
    expert = await new_member()
    visitor = await new_member()
    await expert.ok("GET", f"/members/{expert.id}")
    await expert.ok("GET", "/me")
    assert (await expert.ok("GET", "/me"))["profile_page_views_count"] == 0
    await visitor.ok("GET", f"/members/{expert.username}")
    seen = await visitor.ok("GET", f"/members/{expert.id}")
    assert seen["profile_page_views_count"] == 2
    assert error_of(await visitor.call("GET", "/members/999999999")) == (404, "not_found")
    assert (await expert.ok("GET", "/me"))["profile_page_views_count"] == 2


async def test_statistics_come_from_the_completed_calls_as_the_expert(
    new_member: NewMember, container: Container
) -> None:
    expert = await new_member(charity_name="charity: water", charity_url="http://www.charitywater.org/")
    seeker = await new_member()
    await completed_call(container, seeker.id, expert.id, duration=600, response=100, rate_cents=6000)
    await completed_call(container, seeker.id, expert.id, duration=900, response=300, rate_cents=6000)
    await completed_call(container, expert.id, seeker.id, duration=60, response=5)  # expert as the seeker
    body = await seeker.ok("GET", f"/members/{expert.id}")
    assert body["total_calls"] == 2
    assert body["average_call_duration"] == 750
    assert body["average_response_time"] == 200
    assert body["amount_generated_for_charity"] == 25.0  # 10 + 15 billed minutes at $60/h
    assert body["charity_name"] == "charity: water" and body["charity_url"] == "http://www.charitywater.org/"


async def test_a_member_edits_their_expert_settings(new_member: NewMember) -> None:
    me = await new_member()
    body = await me.ok("PUT", "/me", data={"hourly_rate": "120.50", "expertise": "Growth marketing",
                                           "location": "Moncton, New Brunswick", "timezone": "Europe/Paris",
                                           "charity_name": "Water", "charity_url": "https://water.example/",
                                           "charity_logo": "https://water.example/logo.png"})
    assert body["hourly_rate"] == "120.5" and body["expertise_body"] == "Growth marketing"
    assert body["location"] == "Moncton, New Brunswick" and body["timezone"] == "Europe/Paris"
    assert body["timezone_label"] in ("CET", "CEST")
    assert body["charity_logo"] == "https://water.example/logo.png"
    body = await me.ok("POST", "/me", json={"hourly_rate": 80, "timezone": ""})
    assert body["hourly_rate"] == "80.0" and body["timezone"] == "UTC" and body["location"] == "Moncton, New Brunswick"
    assert (await me.ok("GET", "/me"))["hourly_rate"] == "80.0"


async def test_invalid_expert_settings_change_nothing(new_member: NewMember) -> None:
    me = await new_member(hourly_rate="10")
    for bad in ({"hourly_rate": "-1"}, {"hourly_rate": "10.555"}, {"hourly_rate": "lots"},
                {"hourly_rate": "1000000"}, {"hourly_rate": "NaN"}, {"timezone": "Mars/Olympus"},
                {"timezone": "../../etc/passwd"}, {"charity_url": "javascript:alert(1)"},
                {"charity_logo": "ftp://x.example/logo"}, {"location": "x" * 300},
                {"location": "ok", "hourly_rate": "-5"}, {}):
        assert error_of(await me.call("PUT", "/me", data=bad)) == (400, "invalid_request"), bad
    body = await me.ok("GET", "/me")
    assert body["hourly_rate"] == "10.0" and body["location"] == ""


async def test_a_malformed_body_is_a_400(new_member: NewMember) -> None:
    me = await new_member()
    response = await me.call("PUT", "/me", content=b"{not json", headers={"content-type": "application/json"})
    assert error_of(response) == (400, "invalid_request")
    response = await me.call("PUT", "/me", json=["hourly_rate", 1])
    assert error_of(response) == (400, "invalid_request")


async def test_the_openapi_document_describes_the_member_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/experts/openapi.json")).json()
    paths = spec["paths"]
    for path, methods in {"/v1/me": {"get", "put", "post"}, "/v1/members": {"get"}, "/v1/members/{member}": {"get"},
                          "/v1/search": {"get"}, "/v1/search/{q}": {"get"}, "/v1/organizations": {"get"},
                          "/v1/organizations/{organization_id}": {"get"}, "/v1/messages": {"get"},
                          "/v1/messages/{member_id}": {"get", "post"}}.items():
        assert methods <= set(paths[path]), path
    body = paths["/v1/me"]["put"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert "hourly_rate" in body["properties"]
