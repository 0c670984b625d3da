"""GET /experts/v1/search: full-text expert search, 10 brief members a page, ranked."""

from __future__ import annotations

import secrets

from tests.api.experts.conftest import NewMember, error_of
from tests.core.experts.factories import completed_call
from townhall.container import Container

BRIEF_FIELDS = {"bio", "clarity_url", "first_name", "hourly_rate", "id", "image_url", "last_name", "location",
                "name", "screen_name"}


def tag() -> str:
    return "zq" + secrets.token_hex(4)


async def test_search_answers_matches_and_brief_members_as_the_seed(new_member: NewMember) -> None:
    town = tag()
    me = await new_member()
    justin = await new_member(name="Justin Vaillancourt", bio="Code aficionado.", location=f"{town}, New Brunswick",
                              hourly_rate="20")
    body = await me.ok("GET", "/search", params={"q": town})
    assert body["matches"] == 1
    (found,) = body["members"]
    assert set(found) == BRIEF_FIELDS
    assert found["id"] == justin.id and found["screen_name"] == justin.username
    assert (found["first_name"], found["last_name"], found["name"]) == ("Justin", "Vaillancourt",
                                                                        "Justin Vaillancourt")
    assert found["hourly_rate"] == 20.0 and found["location"] == f"{town}, New Brunswick"
    assert (await me.ok("GET", f"/search/{town}")) == body


async def test_every_word_must_match_as_a_prefix_in_any_field(new_member: NewMember) -> None:
    word = tag()
    me = await new_member()
    ada = await new_member(name=f"Ada {word}", expertise="Analytical engines")
    await new_member(name=f"Bob {word}", bio="Gardening")
    assert [m["id"] for m in (await me.ok("GET", "/search", params={"q": f"{word[:6]} analyt"}))["members"]] \
        == [ada.id]
    assert (await me.ok("GET", "/search", params={"q": word}))["matches"] == 2
    assert (await me.ok("GET", "/search", params={"q": f"{word} nosuchwordzz"}))["matches"] == 0


async def test_fts_syntax_in_the_query_is_only_text(new_member: NewMember) -> None:
    word = tag()
    me = await new_member()
    ada = await new_member(name=f"Ada {word}")
    for q in (f'"{word}', f"{word}*", f"-{word}", f"({word}) & |", f"{word}:", f"^{word}", f"{word}+", f"NEAR({word})"[4:]):
        body = await me.ok("GET", "/search", params={"q": q})
        assert [m["id"] for m in body["members"]] == [ada.id], q
    for q in ('"', "*", "&|!():", "   "):
        assert await me.ok("GET", "/search", params={"q": q}) == {"matches": 0, "members": []}, q


async def test_results_come_ten_at_a_time_with_offset(new_member: NewMember) -> None:
    word = tag()
    me = await new_member()
    made = {(await new_member(name=f"Member {word} {i}")).id for i in range(12)}
    first = await me.ok("GET", "/search", params={"q": word})
    second = await me.ok("GET", "/search", params={"q": word, "offset": 10})
    assert first["matches"] == second["matches"] == 12
    assert len(first["members"]) == 10 and len(second["members"]) == 2
    assert {m["id"] for m in first["members"] + second["members"]} == made
    assert (await me.ok("GET", "/search", params={"q": word, "offset": 50}))["members"] == []


async def test_experts_rank_before_others_and_busy_experts_first(new_member: NewMember, container: Container) -> None:
    word = tag()
    me = await new_member()
    plain = await new_member(name=f"Plain {word}")
    expert = await new_member(name=f"Rated {word}", hourly_rate="50")
    busy = await new_member(name=f"Busy {word}", expertise="Sales")
    await completed_call(container, me.id, busy.id, duration=60, response=10)
    body = await me.ok("GET", "/search", params={"q": word})
    assert [m["id"] for m in body["members"]] == [busy.id, expert.id, plain.id]


async def test_a_name_match_ranks_before_a_bio_match(new_member: NewMember) -> None:
    word = tag()
    me = await new_member()
    in_bio = await new_member(name="Someone Else", bio=f"I once met {word} in a long story about many things")
    in_name = await new_member(name=f"{word} Person")
    body = await me.ok("GET", "/search", params={"q": word})
    assert [m["id"] for m in body["members"]] == [in_name.id, in_bio.id]


async def test_changed_settings_and_profiles_are_found_at_once(new_member: NewMember) -> None:
    word, other = tag(), tag()
    me = await new_member()
    ada = await new_member(expertise=f"{word} consulting")
    assert (await me.ok("GET", "/search", params={"q": word}))["matches"] == 1
    await ada.ok("PUT", "/me", data={"expertise": f"{other} consulting"})
    assert (await me.ok("GET", "/search", params={"q": word}))["matches"] == 0
    assert (await me.ok("GET", "/search", params={"q": other}))["matches"] == 1


async def test_bad_search_parameters_are_400(new_member: NewMember) -> None:
    me = await new_member()
    assert error_of(await me.call("GET", "/search")) == (400, "invalid_request")
    assert error_of(await me.call("GET", "/search", params={"q": "x" * 201})) == (400, "invalid_request")
    assert error_of(await me.call("GET", "/search", params={"q": "a", "offset": "-1"})) == (400, "invalid_request")
    assert error_of(await me.call("GET", "/search", params={"q": "a", "offset": "ten"})) == (400, "invalid_request")
