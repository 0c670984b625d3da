"""Clubhouse shapes of users and profiles."""

from __future__ import annotations

from typing import Any

from townhall.core.accounts.profiles import Profile

BIO_IN_LISTS = 80  # lists carry bios truncated to ~80 characters


def user_profile(p: Profile) -> dict[str, Any]:
    """The short form (``user_profile`` of me, sign-in and notifications)."""
    return {"user_id": p.user_id, "name": p.name, "photo_url": p.photo_url, "username": p.username}


def _short_bio(bio: str | None) -> str | None:
    if bio is None or len(bio) <= BIO_IN_LISTS:
        return bio
    return bio[: BIO_IN_LISTS - 1].rstrip() + "…"


def user_item(p: Profile) -> dict[str, Any]:
    """A user in a list (following, suggestions, search): bio truncated."""
    return {"user_id": p.user_id, "name": p.name, "photo_url": p.photo_url, "username": p.username,
            "bio": _short_bio(p.bio), "twitter": p.twitter}


def items(ids: list[int], found: dict[int, Profile]) -> list[dict[str, Any]]:
    return [user_item(found[i]) for i in ids if i in found]
