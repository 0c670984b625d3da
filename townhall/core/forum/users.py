"""Forum users: the forum profile of a core user (msid = ``<user_id>.<sid>``), and roles."""

from __future__ import annotations

import re
import secrets
import string
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from townhall.core.accounts import service as accounts
from townhall.core.clock import now
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.fields import is_digits
from townhall.core.forum import text
from townhall.core.forum.events import MemberJoined, MemberJoinedWaitlist
from townhall.core.forum.models import (
    ADMIN,
    MEMBER,
    NEW_USER_STATUSES,
    OWNER,
    ROLES,
    USER_ACTIVE,
    USER_STATUSES,
    USER_WAITLIST,
    ApiUser,
    Page,
    Profile,
    Role,
    split_page,
)
from townhall.core.forum.tables import forum_profiles
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
_SID_ALPHABET = string.ascii_letters + string.digits
SOCIAL_LINKS = ("Twitter", "Linkedin")
MAX_NAME = 128
MAX_URL = 2000
SORTS = {"user_id": (forum_profiles.c.user_id,), "joined": (forum_profiles.c.created_at, forum_profiles.c.user_id),
         "name": (func.lower(forum_profiles.c.first_name), func.lower(forum_profiles.c.last_name),
                  forum_profiles.c.user_id)}


def new_sid() -> str:
    return "".join(secrets.choice(_SID_ALPHABET) for _ in range(25))


def _profile(row: RowMapping) -> Profile:
    return Profile(
        user_id=row["user_id"], sid=row["sid"], username=row["username"], first_name=row["first_name"],
        middle_name=row["middle_name"], last_name=row["last_name"], email=row["email"], sso_id=row["sso_id"],
        user_avatar=row["user_avatar"], banner=row["banner"], lang=row["lang"], timezone=row["timezone"],
        user_description=row["user_description"], social_media_links=row["social_media_links"],
        meta=row["meta"] or {}, role_id=row["role_id"], is_bot=row["is_bot"], user_status=row["user_status"],
        login_count=row["login_count"], post_count=row["post_count"], comment_count=row["comment_count"],
        reply_count=row["reply_count"], created_at=row["created_at"], last_modified_at=row["last_modified_at"],
    )


# -- roles


def list_roles() -> list[Role]:
    return list(ROLES.values())


def check_role(role_id: Any) -> int:
    if isinstance(role_id, bool) or not isinstance(role_id, int) or role_id not in ROLES:
        raise Invalid("invalid_role", f"role_id must be one of {', '.join(map(str, ROLES))}", field="role_id")
    return role_id


def check_admin(api: ApiUser, action: str) -> None:
    if not api.is_admin:
        raise Forbidden("not_admin", f"only an admin API user may {action}")


def check_moderator(api: ApiUser, action: str) -> None:
    if not api.is_moderator:
        raise Forbidden("not_moderator", f"only a moderator or admin API user may {action}")


# -- reading


async def get_profiles(conn: Connection, user_ids: Iterable[int]) -> dict[int, Profile]:
    wanted = list(set(user_ids))
    if not wanted:
        return {}
    rows = (await conn.execute(select(forum_profiles).where(forum_profiles.c.user_id.in_(wanted)))).mappings()
    return {r["user_id"]: _profile(r) for r in rows}


async def get_profile(conn: Connection, user_id: int) -> Profile:
    found = await get_profiles(conn, [user_id])
    if user_id not in found:
        raise NotFound("user_not_found", f"user {user_id} does not exist")
    return found[user_id]


def parse_msid(msid: str) -> tuple[int, str]:
    user_id, dot, sid = msid.partition(".")
    if not dot or not is_digits(user_id) or not sid or len(user_id) > 18:
        raise NotFound("user_not_found", f'"{msid}" is not the msid of a user (<user_id>.<sid>)')
    return int(user_id), sid


async def access_by_msid(conn: Connection, msid: Any) -> Profile:
    if not isinstance(msid, str):
        raise Invalid("invalid_msid", "an msid is a string <user_id>.<sid>")
    user_id, sid = parse_msid(msid)
    found = (await get_profiles(conn, [user_id])).get(user_id)
    if found is None or found.sid != sid:
        raise NotFound("user_not_found", f"user {msid} does not exist")
    return found


async def access_user(conn: Connection, api: ApiUser, ref: str) -> Profile:
    """A user by msid; by bare user id only for API users with the LIST permission (moderators)."""
    if is_digits(ref) and len(ref) <= 18:
        if not api.is_moderator:
            raise Forbidden("no_list_permission", "looking users up by user_id needs the LIST permission; use msid")
        return await get_profile(conn, int(ref))
    return await access_by_msid(conn, ref)


async def access_authors(conn: Connection, msids: Any, *, field_name: str) -> Profile:
    """The author named by an msid (``authors`` lists: the first one is used)."""
    if isinstance(msids, list):
        if not msids:
            raise Invalid("invalid_author", f"{field_name} must name at least one user msid", field=field_name)
        msids = msids[0]
    if not isinstance(msids, str) or not msids:
        raise Invalid("invalid_author", f"{field_name} must be a user msid", field=field_name)
    try:
        author = await access_by_msid(conn, msids)
    except NotFound as exc:
        raise Invalid("unknown_author", f"{field_name}: user {msids} does not exist", field=field_name) from exc
    if author.user_status not in (USER_ACTIVE,):
        raise Forbidden("author_not_active", f"user {msids} is not active and cannot write")
    return author


async def list_users(conn: Connection, api: ApiUser, *, sort_by: str, order: str, status: int, page: Page) -> tuple[
        list[Profile], bool]:
    """Users of a status: needs the LIST permission (moderators), as looking one up by user_id does."""
    if not api.is_moderator:
        raise Forbidden("no_list_permission", "listing users needs the LIST permission (moderators and admins)")
    if sort_by not in SORTS:
        raise Invalid("invalid_sort", f"sort_by must be one of {', '.join(SORTS)}", field="sort_by")
    if order not in ("asc", "desc"):
        raise Invalid("invalid_order", "order must be asc or desc", field="order")
    if status not in USER_STATUSES:
        raise Invalid("invalid_status", f"status must be one of {', '.join(map(str, USER_STATUSES))}")
    columns = SORTS[sort_by]
    stmt = (select(forum_profiles).where(forum_profiles.c.user_status == status)
            .order_by(*(c.asc() if order == "asc" else c.desc() for c in columns))
            .limit(page.size + 1).offset(page.offset))
    rows = [_profile(r) for r in (await conn.execute(stmt)).mappings()]
    return split_page(rows, page)


# -- writing


@dataclass(slots=True)
class UserFields:
    first_name: str
    email: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    sso_id: str | None = None
    user_avatar: str | None = None
    lang: str | None = None
    timezone: str | None = None
    user_status: int | None = None
    user_description: str | None = None
    banner: str | None = None
    social_media_links: dict[str, Any] | None = None
    given: set[str] = field(default_factory=set)  # the fields the caller sent (updates change only those)


def check_user_fields(f: UserFields, *, creating: bool) -> UserFields:
    if not isinstance(f.first_name, str) or not f.first_name.strip() or len(f.first_name) > MAX_NAME:
        raise Invalid("invalid_first_name", "first_name is required (1-128 characters)", field="first_name")
    for name in ("middle_name", "last_name"):
        value = getattr(f, name)
        if value is not None and len(value) > MAX_NAME:
            raise Invalid(f"invalid_{name}", f"{name} is longer than {MAX_NAME} characters", field=name)
    if creating:
        # email_key is the lowercased address: lowercasing may lengthen it ("İ" → "i̇").
        if not isinstance(f.email, str) or not _EMAIL.match(f.email) or len(f.email.lower()) > 320:
            raise Invalid("invalid_email", "email is required and must be an email address", field="email")
        if f.user_status is not None and f.user_status not in NEW_USER_STATUSES:
            raise Invalid("invalid_user_status",
                          f"a new user's user_status is one of {', '.join(map(str, NEW_USER_STATUSES))}",
                          field="user_status")
        if f.sso_id is not None and not (0 < len(f.sso_id) <= 255):
            raise Invalid("invalid_sso_id", "sso_id must be 1-255 characters", field="sso_id")
    if f.username is not None and not _USERNAME.match(f.username):
        raise Invalid("invalid_username", "username may only have letters, digits and _ (1-64)", field="username")
    if f.lang is not None and not _LANG.match(f.lang):
        raise Invalid("invalid_lang", "lang must be a language code such as en or pt-BR", field="lang")
    if f.timezone is not None:
        try:
            zoneinfo.ZoneInfo(f.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise Invalid("invalid_timezone", f'unknown timezone "{f.timezone}"', field="timezone") from exc
    for name in ("user_avatar", "banner"):
        value = getattr(f, name)
        if value is not None and (len(value) > MAX_URL or not value.startswith(("http://", "https://"))):
            raise Invalid(f"invalid_{name}", f"{name} must be an http(s) URL", field=name)
    if f.social_media_links is not None:
        unknown = set(f.social_media_links) - set(SOCIAL_LINKS)
        if unknown:
            raise Invalid("invalid_social_media_links",
                          f"social_media_links keys are {', '.join(SOCIAL_LINKS)}", field="social_media_links")
        for key, value in f.social_media_links.items():
            if value is not None and (not isinstance(value, str) or not value.startswith(("http://", "https://"))):
                raise Invalid("invalid_social_media_links", f"social_media_links.{key} must be an http(s) URL",
                              field="social_media_links")
    return f


def _display_name(f: UserFields) -> str:
    return " ".join(p for p in (f.first_name, f.last_name) if p)


async def _free_username(conn: Connection, wanted: str | None, first_name: str) -> str:
    if wanted is not None:
        taken = (await conn.execute(select(forum_profiles.c.user_id).where(
            forum_profiles.c.username_key == wanted.lower()))).first()
        if taken is not None or await accounts.get_users_by_chat_id(conn, [wanted]):
            raise Conflict("username_taken", f'username "{wanted}" is taken', field="username")
        return wanted
    base = re.sub(r"[^A-Za-z0-9_]", "", first_name)[:40] or "user"
    for _ in range(20):
        candidate = f"{base}{secrets.randbelow(10**6)}"
        taken = (await conn.execute(select(forum_profiles.c.user_id).where(
            forum_profiles.c.username_key == candidate.lower()))).first()
        if taken is None and not await accounts.get_users_by_chat_id(conn, [candidate]):
            return candidate
    raise Conflict("username_taken", "could not find a free username; pass one")


async def do_create_user(uow: UnitOfWork, api: ApiUser, f: UserFields, *, is_bot: bool = False,
                         role_id: int = MEMBER) -> tuple[Profile, bool]:
    """A new core user with its forum profile: (profile, created). The same ``sso_id`` again
    answers the existing user (a retried request makes no duplicate)."""
    check_admin(api, "create users")
    return await create_profile(uow, f, is_bot=is_bot, role_id=role_id)


async def create_profile(uow: UnitOfWork, f: UserFields, *, is_bot: bool = False,
                         role_id: int = MEMBER) -> tuple[Profile, bool]:
    check_user_fields(f, creating=not is_bot)
    conn = uow.conn
    if f.sso_id is not None:
        row = (await conn.execute(select(forum_profiles).where(forum_profiles.c.sso_id == f.sso_id))).mappings().first()
        if row is not None:
            return _profile(row), False
    if f.email is not None:
        taken = (await conn.execute(select(forum_profiles.c.user_id).where(
            forum_profiles.c.email_key == f.email.lower()))).first()
        if taken is not None:
            raise Conflict("email_taken", f"a user with email {f.email} exists", field="email")
    username = await _free_username(conn, f.username, f.first_name)
    try:
        return await _insert_profile(uow, f, username, is_bot=is_bot, role_id=role_id)
    except IntegrityError as exc:
        # Checked above, but taken between the check and the insert by a request running at the
        # same moment (PostgreSQL); the unit of work rolls back: nothing is half-made.
        raise Conflict("user_exists", "a user with this email, sso_id or username was just created; "
                                      "retry to get it") from exc


async def _insert_profile(uow: UnitOfWork, f: UserFields, username: str, *, is_bot: bool,
                          role_id: int) -> tuple[Profile, bool]:
    conn = uow.conn
    (core_user,) = await accounts.upsert_chat_users(
        uow, [accounts.UserFields(chat_id=username, name=_display_name(f), image=f.user_avatar,
                                  language=f.lang)], replace=False)
    stamp = now()
    await conn.execute(insert(forum_profiles).values(
        user_id=core_user.id, sid=new_sid(), username=username, username_key=username.lower(),
        first_name=f.first_name, middle_name=f.middle_name, last_name=f.last_name, email=f.email,
        email_key=f.email.lower() if f.email else None, sso_id=f.sso_id, user_avatar=f.user_avatar,
        banner=f.banner, lang=f.lang or "en", timezone=f.timezone or "UTC",
        user_description=text.sanitize(f.user_description) if f.user_description else None,
        social_media_links=f.social_media_links, meta={}, role_id=role_id, is_bot=is_bot,
        user_status=f.user_status if f.user_status is not None else USER_ACTIVE, login_count=0, post_count=0,
        comment_count=0, reply_count=0, created_at=stamp, last_modified_at=stamp,
    ))
    profile = await get_profile(conn, core_user.id)
    if not is_bot:
        if profile.user_status == USER_WAITLIST:
            uow.emit(MemberJoinedWaitlist(user=profile))
        elif profile.user_status == USER_ACTIVE:
            uow.emit(MemberJoined(user=profile))
    return profile, True


async def ensure_profile(uow: UnitOfWork, user_id: int, *, role_id: int = MEMBER) -> Profile:
    """The forum profile of an existing core user, made from its core fields when it has none."""
    found = (await get_profiles(uow.conn, [user_id])).get(user_id)
    if found is not None:
        return found
    core = await accounts.get_user(uow.conn, user_id)
    stamp = now()
    username = re.sub(r"[^A-Za-z0-9_]", "_", core.chat_id)[:56]
    if (await uow.conn.execute(select(forum_profiles.c.user_id).where(
            forum_profiles.c.username_key == username.lower()))).first() is not None:
        username = f"{username}_{user_id}"
    await uow.conn.execute(insert(forum_profiles).values(
        user_id=user_id, sid=new_sid(), username=username, username_key=username.lower(),
        first_name=core.name or core.chat_id, user_avatar=core.image, lang=core.language or "en", timezone="UTC",
        meta={}, role_id=role_id, is_bot=False, user_status=USER_ACTIVE, login_count=0, post_count=0,
        comment_count=0, reply_count=0, created_at=stamp, last_modified_at=stamp,
    ))
    profile = await get_profile(uow.conn, user_id)
    uow.emit(MemberJoined(user=profile))
    return profile


async def do_update_user(uow: UnitOfWork, api: ApiUser, profile: Profile, f: UserFields) -> Profile:
    if not api.is_admin and profile.user_id != api.user_id:
        raise Forbidden("not_admin", "only an admin API user may edit other users")
    check_user_fields(f, creating=False)
    values: dict[str, Any] = {}
    for name in ("first_name", "middle_name", "last_name", "user_avatar", "lang", "timezone", "banner",
                 "social_media_links"):
        if name in f.given:
            values[name] = getattr(f, name)
    if "lang" in values and values["lang"] is None:
        values["lang"] = "en"
    if "timezone" in values and values["timezone"] is None:
        values["timezone"] = "UTC"
    if "user_description" in f.given:
        values["user_description"] = text.sanitize(f.user_description) if f.user_description else None
    if "username" in f.given and f.username is not None and f.username.lower() != profile.username.lower():
        taken = (await uow.conn.execute(select(forum_profiles.c.user_id).where(
            forum_profiles.c.username_key == f.username.lower()))).first()
        if taken is not None:
            raise Conflict("username_taken", f'username "{f.username}" is taken', field="username")
        values.update(username=f.username, username_key=f.username.lower())
    elif "username" in f.given and f.username is not None:
        values["username"] = f.username  # only its case changes
    values["last_modified_at"] = now()
    try:
        await uow.conn.execute(update(forum_profiles).where(forum_profiles.c.user_id == profile.user_id)
                               .values(**values))
    except IntegrityError as exc:  # the username was taken meanwhile
        raise Conflict("username_taken", f'username "{f.username}" is taken', field="username") from exc
    return await get_profile(uow.conn, profile.user_id)


async def do_change_role(uow: UnitOfWork, api: ApiUser, profile: Profile, role_id: Any) -> Profile:
    """Admins change roles; only owners grant or take away Owner and Admin (an admin cannot make
    itself owner, nor demote the owner); the last owner stays an owner."""
    check_admin(api, "change roles")
    check_role(role_id)
    if (role_id in (OWNER, ADMIN) or profile.role_id in (OWNER, ADMIN)) and api.role_id != OWNER:
        raise Forbidden("not_owner", "only an owner API user may grant or remove the Owner and Admin roles")
    if profile.role_id == OWNER and role_id != OWNER:
        # The owners, locked (PostgreSQL): two owners demoting each other at once cannot both win.
        owners = (await uow.conn.execute(select(forum_profiles.c.user_id).where(
            forum_profiles.c.role_id == OWNER, forum_profiles.c.user_status == USER_ACTIVE)
            .order_by(forum_profiles.c.user_id).with_for_update())).scalars().all()
        if set(owners) <= {profile.user_id}:
            raise Conflict("last_owner", "the last owner cannot lose the Owner role; make another owner first")
    await uow.conn.execute(update(forum_profiles).where(forum_profiles.c.user_id == profile.user_id)
                           .values(role_id=role_id, last_modified_at=now()))
    return await get_profile(uow.conn, profile.user_id)


async def bump_counts(uow: UnitOfWork, user_id: int, **deltas: int) -> None:
    """Atomic counter changes (post_count, comment_count, reply_count) in the caller's transaction."""
    values = {name: getattr(forum_profiles.c, name) + delta for name, delta in deltas.items() if delta}
    if values:
        await uow.conn.execute(update(forum_profiles).where(forum_profiles.c.user_id == user_id).values(**values))
