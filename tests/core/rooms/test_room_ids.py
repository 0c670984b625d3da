"""Ids as clients spell them: only ASCII digits are numbers (``str.isdigit`` also accepts
superscripts, circled digits and other scripts' digits, which ``int`` refuses or misreads)."""

from __future__ import annotations

import pytest

from townhall.core.errors import Invalid
from townhall.core.fields import digits_id
from townhall.core.rooms import service


def test_only_ascii_digits_spell_an_id() -> None:
    assert digits_id("42") == 42
    for text in ("\u00b2", "\u2460", "\u0661", "", "-1", " 1", "1" * 19):
        assert digits_id(text) is None


def test_user_ids_and_handraise_permissions_in_other_digits_are_invalid_not_errors() -> None:
    assert service.check_user_ids(["7", 8]) == [7, 8]
    with pytest.raises(Invalid):
        service.check_user_ids(["\u00b2"])
    with pytest.raises(Invalid):
        service.check_handraise_permission("\u0661")
