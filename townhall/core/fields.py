"""Field checks every domain shares: ids as clients send them, names and descriptions.

One place for each rule; the domains call these with their own names, limits and messages.
"""

from __future__ import annotations

from typing import Any

from townhall.core.errors import Invalid

MAX_ID = 2**63  # ids are BIGINT


def is_digits(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits. (``str.isdigit`` is also true for "²", "①"
    or "١", which ``int`` then refuses or reads as another number.)"""
    return text.isascii() and text.isdigit()


def digits_id(text: str) -> int | None:
    """The id ``text`` spells in ASCII digits (at most 18, so it fits a BIGINT), None otherwise."""
    return int(text) if is_digits(text) and len(text) <= 18 else None


def check_positive_id(value: Any, name: str) -> int:
    """An id as clients send it: an int, or digits in a string; ``Invalid("invalid_<name>")``
    unless it is a positive 64-bit integer."""
    if isinstance(value, str) and is_digits(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_ID:
        raise Invalid(f"invalid_{name}", f"{name} must be a positive integer", field=name)
    return value


def check_title(value: Any, *, code: str, what: str, max_length: int) -> str:
    """A required one-line name (inner whitespace collapsed), at most ``max_length`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(code, f"{what} needs a name.", field="name")
    title = " ".join(value.split())
    if len(title) > max_length:
        raise Invalid(code, f"{what} name is at most {max_length} characters.", field="name")
    return title


def check_description(value: Any, *, what: str, max_length: int) -> str:
    """An optional description (None: empty), stripped, at most ``max_length`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("invalid_description", "description must be a string", field="description")
    value = value.strip()
    if len(value) > max_length:
        raise Invalid("invalid_description", f"{what} description is at most {max_length} characters.",
                      field="description")
    return value


def has_control_characters(text: str, *, allow: str = "\t\n\r") -> bool:
    """True when ``text`` holds NUL or another control character (C0, DEL, C1) not in ``allow``:
    what no name or text field stores (PostgreSQL refuses NUL in text outright)."""
    return any((ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F) and ch not in allow for ch in text)


def check_text(value: str, *, code: str, name: str, allow: str = "\t\n\r") -> str:
    """``value`` unless it holds a control character other than ``allow`` (tab and line breaks by
    default); ``Invalid(code)`` naming the field ``name`` otherwise."""
    if has_control_characters(value, allow=allow):
        raise Invalid(code, f"{name} contains characters that are not allowed.", field=name)
    return value
