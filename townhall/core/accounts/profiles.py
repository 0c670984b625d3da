"""Social profiles: username (unique case-insensitively), display name, bio, photo, skin tone,
linked accounts and e-mail. ``name`` and the photo are the user's own columns, so every surface
sees the same ones."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from townhall.core.accounts.events import UserUpdated
from townhall.core.accounts.service import get_user
from townhall.core.accounts.sessions import do_revoke_user_sessions
from townhall.core.accounts.signin import PHONE, ensure_profile
from townhall.core.accounts.tables import identities, profiles, users
from townhall.core.clock import now
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.events import user_topic
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

USERNAME = re.compile(r"^[A-Za-z0-9_]{2,16}$")
RESERVED_USERNAMES = frozenset({"admin", "administrator", "root", "support", "help", "townhall", "clubhouse",
                                "moderator", "staff", "system", "null", "none", "me", "api", "www", "official"})
USERNAME_NOT_ALLOWED = "This username is not allowed. Please try another one."
USERNAME_TAKEN = "This username has already been taken by a different user."
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
HANDLE = re.compile(r"^@?[A-Za-z0-9_.]{1,30}$")
MAX_NAME = 64
MAX_BIO = 2000
WAITLISTED = "Your account is waitlisted. Please contact us if this is in error."


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: int
    name: str | None
    photo_url: str | None
    username: str | None
    displayname: str | None
    bio: str | None
    twitter: str | None
    instagram: str | None
    skintone: int | None
    email: str | None
    invited_by: int | None
    waitlisted: bool
    num_invites: int
    role: str
    banned: bool
    created_at: datetime
    last_active: datetime | None

    @property
    def first_name(self) -> str | None:
        return self.name.split()[0] if self.name and self.name.split() else self.name


_PROFILE = select(
    users.c.id, users.c.name, users.c.image, users.c.role, users.c.banned, users.c.created_at, users.c.last_active,
    profiles.c.username, profiles.c.displayname, profiles.c.bio, profiles.c.twitter, profiles.c.instagram,
    profiles.c.skintone, profiles.c.email, profiles.c.invited_by, profiles.c.waitlisted, profiles.c.num_invites,
).select_from(users.outerjoin(profiles, profiles.c.user_id == users.c.id)).where(users.c.deleted_at.is_(None))


def profile_from_row(r: Any) -> Profile:
    return Profile(
        user_id=r.id, name=r.name, photo_url=r.image, username=r.username, displayname=r.displayname, bio=r.bio,
        twitter=r.twitter, instagram=r.instagram, skintone=r.skintone, email=r.email, invited_by=r.invited_by,
        waitlisted=bool(r.waitlisted), num_invites=r.num_invites or 0, role=r.role, banned=bool(r.banned),
        created_at=r.created_at, last_active=r.last_active,
    )


def profile_select() -> Any:
    """SELECT of profiles (users left-joined with their social profile), not deleted users."""
    return _PROFILE


async def get_profiles(conn: Connection, ids: Iterable[int]) -> dict[int, Profile]:
    wanted = list({int(i) for i in ids})
    if not wanted:
        return {}
    rows = await conn.execute(_PROFILE.where(users.c.id.in_(wanted)))
    return {r.id: profile_from_row(r) for r in rows}


async def access_profile(conn: Connection, user_id: int) -> Profile:
    found = await get_profiles(conn, [user_id])
    if user_id not in found:
        raise NotFound("user_not_found", "That user does not exist.")
    return found[user_id]


def check_admitted_status(waitlisted: bool | None) -> None:
    """The one rule of who may act while waiting: nobody. ``None`` (no social profile) or a
    waitlisted account is refused (``Forbidden("waitlisted")``, the seed's message)."""
    if waitlisted is None or waitlisted:
        raise Forbidden("waitlisted", WAITLISTED)


async def check_admitted(conn: Connection, user_id: int) -> None:
    """Refuse a caller who is still on the waitlist (see ``check_admitted_status``)."""
    check_admitted_status((await conn.execute(select(profiles.c.waitlisted).where(
        profiles.c.user_id == user_id))).scalar_one_or_none())


async def user_id_by_username(conn: Connection, username: str) -> int | None:
    return (await conn.execute(select(profiles.c.user_id).where(
        profiles.c.username_key == username.strip().lstrip("@").lower()))).scalar_one_or_none()


def _text(value: Any, what: str, max_length: int, *, allow_empty: bool = True) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("invalid_field", f"{what} must be text.")
    value = value.strip()
    if not value and not allow_empty:
        raise Invalid("invalid_field", f"Please enter a {what}.")
    if len(value) > max_length:
        raise Invalid("invalid_field", f"That {what} is too long (at most {max_length} characters).")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise Invalid("invalid_field", f"That {what} contains characters that are not allowed.")
    return value or None


async def _changed(uow: UnitOfWork, user_id: int) -> None:
    uow.emit(UserUpdated(topic=user_topic(user_id), user=await get_user(uow.conn, user_id)))


async def do_ban(uow: UnitOfWork, user_id: int, banned: bool) -> bool:
    """Ban a user (every session ends; each surface then refuses them) or lift the ban; every
    surface hears of it (UserUpdated). False when there is no such user."""
    result = await uow.conn.execute(update(users).where(users.c.id == user_id, users.c.deleted_at.is_(None)).values(
        banned=banned, updated_at=now()))
    if result.rowcount == 0:
        return False
    if banned:
        await do_revoke_user_sessions(uow, user_id)
    await _changed(uow, user_id)
    return True


async def list_profiles(conn: Connection, *, waitlisted_only: bool = False,
                        limit: int = 200) -> list[tuple[Profile, str | None]]:
    """Accounts with a social profile, oldest first, with their phone number (the admin's list)."""
    phone = (select(identities.c.value).where(identities.c.user_id == profiles.c.user_id,
                                              identities.c.kind == PHONE).limit(1).scalar_subquery())
    stmt = _PROFILE.where(profiles.c.user_id.is_not(None))
    if waitlisted_only:
        stmt = stmt.where(profiles.c.waitlisted.is_(True))
    rows = (await conn.execute(stmt.add_columns(phone.label("phone")).order_by(profiles.c.user_id)
                               .limit(limit))).all()
    return [(profile_from_row(r), r.phone) for r in rows]


async def do_update_name(uow: UnitOfWork, user_id: int, name: Any) -> None:
    value = _text(name, "name", MAX_NAME, allow_empty=False)
    await uow.conn.execute(update(users).where(users.c.id == user_id).values(name=value, updated_at=now()))
    await _changed(uow, user_id)


async def do_update_photo(uow: UnitOfWork, user_id: int, url: str | None) -> None:
    await uow.conn.execute(update(users).where(users.c.id == user_id).values(image=url, updated_at=now()))
    await _changed(uow, user_id)


def check_username(username: Any) -> str:
    if not isinstance(username, str):
        raise Invalid("username_not_allowed", USERNAME_NOT_ALLOWED)
    value = username.strip().lstrip("@")
    if not USERNAME.match(value) or value.lower() in RESERVED_USERNAMES:
        raise Invalid("username_not_allowed", USERNAME_NOT_ALLOWED)
    return value


async def do_update_username(uow: UnitOfWork, user_id: int, username: Any) -> str:
    value = check_username(username)
    await ensure_profile(uow, user_id)
    owner = await user_id_by_username(uow.conn, value)
    if owner is not None and owner != user_id:
        raise Conflict("username_taken", USERNAME_TAKEN)
    try:
        await uow.conn.execute(update(profiles).where(profiles.c.user_id == user_id).values(
            username=value, username_key=value.lower()))
    except IntegrityError as exc:  # taken a moment ago by another process (unique username_key)
        raise Conflict("username_taken", USERNAME_TAKEN) from exc
    return value


async def do_update_profile(uow: UnitOfWork, user_id: int, **fields: Any) -> None:
    """Change profile fields: displayname, bio, twitter, instagram, skintone, email."""
    values: dict[str, Any] = {}
    for key, raw in fields.items():
        if key == "displayname":
            values[key] = _text(raw, "display name", MAX_NAME)
        elif key == "bio":
            values[key] = _text(raw, "bio", MAX_BIO)
        elif key in ("twitter", "instagram"):
            handle = _text(raw, f"{key} username", 31)
            if handle is not None and not HANDLE.match(handle):
                raise Invalid("invalid_field", f"That {key} username is not valid.")
            values[key] = handle.lstrip("@") if handle else None
        elif key == "skintone":
            if isinstance(raw, str) and raw.isdigit():
                raw = int(raw)
            if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 5:
                raise Invalid("invalid_field", "skintone must be a number from 1 to 5.")
            values[key] = raw
        elif key == "email":
            email = _text(raw, "e-mail address", 254, allow_empty=False)
            if email is None or not EMAIL.match(email):
                raise Invalid("invalid_email", "Please enter a valid e-mail address.")
            values[key] = email.lower()
        else:
            raise Invalid("invalid_field", f"{key} is not a profile field.")
    if values:
        await ensure_profile(uow, user_id)
        await uow.conn.execute(update(profiles).where(profiles.c.user_id == user_id).values(**values))

