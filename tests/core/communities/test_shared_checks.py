"""Ids, names and descriptions are checked by one shared rule in every domain."""

from __future__ import annotations

import pytest

from townhall.core import fields
from townhall.core.communities import service as clubs
from townhall.core.errors import Invalid
from townhall.core.rooms import scheduled
from townhall.core.social import topics


@pytest.mark.parametrize("check", [clubs.check_id, scheduled.check_event_id, topics.check_topic_id])
def test_every_id_check_takes_positive_integers_and_digit_strings_only(check: object) -> None:
    assert check(7) == 7 and check(" 42 ") == 42  # type: ignore[operator]
    for wrong in (0, -1, True, 2**63, "x1", None, 1.5):
        with pytest.raises(Invalid):
            check(wrong)  # type: ignore[operator]


def test_club_and_event_names_and_descriptions_follow_the_same_rule() -> None:
    assert clubs.check_name("  Book   club ") == "Book club" == scheduled.check_name("Book\tclub")
    assert clubs.check_description(None) == "" == scheduled.check_description(None)
    for check in (clubs.check_name, scheduled.check_name):
        with pytest.raises(Invalid):
            check("   ")
    with pytest.raises(Invalid) as too_long:
        fields.check_description("x" * 11, what="A thing", max_length=10)
    assert too_long.value.message == "A thing description is at most 10 characters."
