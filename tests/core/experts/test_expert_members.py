"""The experts members core: who others may see, lookups, statistics and the expert settings' checks."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.core.experts.factories import completed_call, make_member
from townhall.container import Container
from townhall.core.accounts import profiles
from townhall.core.accounts.tables import profiles as profiles_table
from townhall.core.accounts.tables import users
from townhall.core.errors import Invalid, NotFound
from townhall.core.experts import members


@pytest.mark.parametrize(("given", "cents"), [
    ("0", 0), (0, 0), ("20", 2000), (20.5, 2050), ("120.50", 12050), (" 7.05 ", 705), ("10000", 1_000_000),
    ("1e2", 10000),
])
def test_hourly_rates_are_read_to_the_cent(given: object, cents: int) -> None:
    assert members.check_hourly_rate(given) == cents


@pytest.mark.parametrize("given", ["-0.01", "10000.01", "1.001", "abc", "", "NaN", "Infinity", True, None, [1]])
def test_hourly_rates_out_of_range_or_too_precise_are_refused(given: object) -> None:
    with pytest.raises(Invalid):
        members.check_hourly_rate(given)


def test_timezones_are_iana_names() -> None:
    assert members.check_timezone("America/Halifax") == "America/Halifax"
    assert members.check_timezone("") == ""
    for bad in ("Atlantic Time (Canada)", "america/halifax", "../../etc/passwd", "/usr/share/zoneinfo/UTC", 3):
        with pytest.raises(Invalid):
            members.check_timezone(bad)


def test_the_timezone_is_shown_with_its_abbreviation_and_offset_now() -> None:
    assert members.timezone_now("Asia/Kolkata") == ("Asia/Kolkata", "IST", 5.5)
    assert members.timezone_now("") == ("UTC", "UTC", 0.0)


def test_charity_urls_are_http_or_https() -> None:
    assert members.check_url("https://water.example/give?x=1", "charity_url") == "https://water.example/give?x=1"
    assert members.check_url("  ", "charity_url") == ""
    for bad in ("javascript:alert(1)", "water.example", "http://", "https://a b.example/", "data:,x", 5):
        with pytest.raises(Invalid):
            members.check_url(bad, "charity_url")


def test_expert_settings_ignore_other_parameters_but_need_one() -> None:
    assert members.check_expert_settings({"oauth_token": "x", "location": " Paris "}) == {"location": "Paris"}
    with pytest.raises(Invalid):
        members.check_expert_settings({"oauth_token": "x"})


async def test_banned_deactivated_and_waitlisted_members_are_hidden_from_others_only(container: Container) -> None:
    viewer, _ = await make_member(container)
    hidden = [(await make_member(container))[0] for _ in range(3)]
    async with container.uow() as uow:
        await profiles.do_ban(uow, hidden[0], True)
        await uow.conn.execute(update(users).where(users.c.id == hidden[1]).values(deactivated_at=users.c.created_at))
        await uow.conn.execute(update(profiles_table).where(profiles_table.c.user_id == hidden[2])
                               .values(waitlisted=True))
    async with container.read() as conn:
        for user_id in hidden:
            with pytest.raises(NotFound):
                await members.access_member(conn, user_id, viewer_id=viewer)
            assert (await members.access_member(conn, user_id, viewer_id=user_id)).id == user_id
        assert set(await members.get_members(conn, [viewer, *hidden], only_visible=True)) == {viewer}


async def test_digits_name_an_id_first_then_a_screen_name(container: Container) -> None:
    numeric, numeric_name = await make_member(container, username="4242424242")
    async with container.read() as conn:
        assert await members.find_member_id(conn, ref="4242424242") == numeric  # no user has that id
        assert await members.find_member_id(conn, ref=str(numeric)) == numeric
        assert await members.find_member_id(conn, ref=f"@{numeric_name}") == numeric
        with pytest.raises(Invalid):
            await members.find_member_id(conn)
        with pytest.raises(Invalid):
            await members.find_member_id(conn, ref="x" * 300)


async def test_statistics_without_calls_or_charity_are_zero(container: Container) -> None:
    expert, _ = await make_member(container, hourly_rate="60")
    seeker, _ = await make_member(container)
    await completed_call(container, seeker, expert, duration=61, response=2, rate_cents=6000)
    async with container.read() as conn:
        member, stats = await members.profile_of(conn, expert, viewer_id=seeker)
    assert member.hourly_rate_cents == 6000
    assert stats == members.Stats(total_calls=1, average_call_duration=61, average_response_time=2, charity_cents=0)


async def test_profile_views_are_counted_for_members_without_expert_settings(container: Container) -> None:
    member, _ = await make_member(container)
    viewer, _ = await make_member(container)
    async with container.uow() as uow:
        await members.do_count_profile_view(uow, viewer, member)
        await members.do_count_profile_view(uow, viewer, member)
        await members.do_count_profile_view(uow, member, member)
    async with container.read() as conn:
        found = await members.access_member(conn, member, viewer_id=viewer)
    assert found.profile_page_views_count == 2 and found.hourly_rate_cents == 0 and not found.is_expert
