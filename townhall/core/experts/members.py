"""Members as the experts surface sees them: core users with their social profile and expert
settings (``expert_profiles``), their statistics as an expert (from ``expert_calls``), how
members are found (id, screen name, Twitter handle, e-mail), profile page views, and the expert
settings a member edits.

Rules (the one place they live):
- a member is a user who is not deleted; one that is deactivated, banned or waitlisted is not
  shown to others (404), though they still see themselves;
- the statistics count completed calls where the member was the expert: how many, their average
  duration and the average time from request to connection (seconds); the amount generated for
  charity is what their billed calls earned (the calls core's billing records) when a charity is set;
- a profile page view is counted when another member fetches the profile;
- expert settings: hourly rate (0 to MAX_HOURLY_RATE, at most two decimals), expertise,
  location, timezone (an IANA name), charity name, URL and logo URL (http or https).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.sql import ColumnElement

from townhall.core.accounts.profiles import user_id_by_username
from townhall.core.accounts.signin import PHONE
from townhall.core.accounts.tables import identities, profiles, users
from townhall.core.calls.models import COMPLETED
from townhall.core.calls.tables import call_billing_records, expert_calls
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.experts.tables import expert_profiles
from townhall.core.fields import MAX_ID, check_text, is_digits
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts, seconds_between

MAX_HOURLY_RATE = Decimal("10000.00")
MAX_EXPERTISE = 5000
MAX_LOCATION = 255
MAX_CHARITY_NAME = 255
MAX_URL = 1024
MAX_LOOKUP = 255
EXPERT_SETTINGS = ("hourly_rate", "expertise", "location", "timezone", "charity_name", "charity_url",
                   "charity_logo")
NO_SUCH_MEMBER = "No such member."


@dataclass(frozen=True, slots=True)
class Stats:
    total_calls: int = 0
    average_call_duration: int = 0  # seconds
    average_response_time: int = 0  # seconds from the request to the connection
    charity_cents: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str | None
    screen_name: str | None
    bio: str
    image_url: str | None
    twitter: str | None
    has_phone: bool
    hourly_rate_cents: int
    expertise: str
    location: str
    timezone: str
    charity_name: str
    charity_url: str
    charity_logo: str
    profile_page_views_count: int
    created_at: datetime
    updated_at: datetime
    last_active_at: datetime | None

    @property
    def display_name(self) -> str:
        return self.name or self.screen_name or ""

    @property
    def first_name(self) -> str:
        return self.display_name.split(" ", 1)[0] if self.display_name else ""

    @property
    def last_name(self) -> str:
        parts = self.display_name.split(None, 1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def is_expert(self) -> bool:
        return self.hourly_rate_cents > 0 or bool(self.expertise)


_has_phone = exists().where(identities.c.user_id == users.c.id, identities.c.kind == PHONE)
_MEMBER = select(
    users.c.id, users.c.name, users.c.image, users.c.created_at, users.c.updated_at, users.c.last_active,
    profiles.c.username, profiles.c.bio, profiles.c.twitter, _has_phone.label("has_phone"),
    expert_profiles.c.hourly_rate_cents, expert_profiles.c.expertise, expert_profiles.c.location,
    expert_profiles.c.timezone, expert_profiles.c.charity_name, expert_profiles.c.charity_url,
    expert_profiles.c.charity_logo, expert_profiles.c.profile_page_views_count,
    expert_profiles.c.updated_at.label("expert_updated_at"),
).select_from(
    users.outerjoin(profiles, profiles.c.user_id == users.c.id)
    .outerjoin(expert_profiles, expert_profiles.c.user_id == users.c.id)
).where(users.c.deleted_at.is_(None))


def visible() -> ColumnElement[bool]:
    """SQL for "a member others may see" (the query joins profiles): not deactivated, banned or
    waitlisted (deleted members are never loaded)."""
    return and_(users.c.deactivated_at.is_(None), users.c.banned.is_(False),
                or_(profiles.c.waitlisted.is_(None), profiles.c.waitlisted.is_(False)))


def _member(r: Any) -> Member:
    updated = max(t for t in (r.updated_at, r.expert_updated_at) if t is not None)
    return Member(
        id=r.id, name=r.name, screen_name=r.username, bio=r.bio or "", image_url=r.image, twitter=r.twitter,
        has_phone=bool(r.has_phone), hourly_rate_cents=r.hourly_rate_cents or 0, expertise=r.expertise or "",
        location=r.location or "", timezone=r.timezone or "", charity_name=r.charity_name or "",
        charity_url=r.charity_url or "", charity_logo=r.charity_logo or "",
        profile_page_views_count=r.profile_page_views_count or 0, created_at=r.created_at, updated_at=updated,
        last_active_at=r.last_active,
    )


async def get_members(conn: Connection, ids: Iterable[int], *, only_visible: bool = False) -> dict[int, Member]:
    """Members by id, in one query (missing ids are left out)."""
    wanted = list({int(i) for i in ids})
    if not wanted:
        return {}
    stmt = _MEMBER.where(users.c.id.in_(wanted))
    if only_visible:
        stmt = stmt.where(visible())
    return {r.id: _member(r) for r in await conn.execute(stmt)}


async def access_member(conn: Connection, member_id: int, *, viewer_id: int | None = None) -> Member:
    """The member, as ``viewer_id`` may see them (themselves always); NotFound otherwise."""
    found = await get_members(conn, [member_id], only_visible=viewer_id != member_id)
    if member_id not in found:
        raise NotFound("member_not_found", NO_SUCH_MEMBER)
    return found[member_id]


async def access_public_page(conn: Connection, ref: Any) -> Member:
    """The member a public page (``/experts/<screen name or id>``) shows: an expert (a rate or an
    expertise set) others may see. Anyone else (nobody, a member not shown, an account that is
    not an expert, such as a social-only one) is NotFound: the pages do not publish every account
    by its sequential id."""
    member = await access_member(conn, await find_member_id(conn, ref=ref))
    if not member.is_expert:
        raise NotFound("member_not_found", NO_SUCH_MEMBER)
    return member


def _lookup_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LOOKUP:
        raise Invalid("invalid_request", f"{what} must be a non-empty string of at most {MAX_LOOKUP} characters.")
    return check_text(value.strip(), code="invalid_request", name=what, allow="")


async def find_member_id(conn: Connection, *, ref: Any = None, twitter: Any = None, email: Any = None) -> int:
    """Whom a lookup names: ``ref`` a member id or screen name (digits are an id first), else a
    Twitter handle, else an e-mail address (the oldest account when several share it).
    NotFound when nobody matches; visibility is ``access_member``'s to check."""
    if ref is not None:
        text = _lookup_text(ref, "id").lstrip("@")
        if is_digits(text) and 0 < int(text) < MAX_ID:
            if (await conn.execute(select(users.c.id).where(users.c.id == int(text)))).first() is not None:
                return int(text)
        found = await user_id_by_username(conn, text)
    elif twitter is not None:
        handle = _lookup_text(twitter, "twitter").lstrip("@").lower()
        found = (await conn.execute(select(profiles.c.user_id).where(func.lower(profiles.c.twitter) == handle)
                                    .order_by(profiles.c.user_id).limit(1))).scalar_one_or_none()
    elif email is not None:
        address = _lookup_text(email, "email").lower()
        found = (await conn.execute(select(profiles.c.user_id).where(profiles.c.email == address)
                                    .order_by(profiles.c.user_id).limit(1))).scalar_one_or_none()
    else:
        raise Invalid("invalid_request", "Name the member with id, twitter or email.")
    if found is None:
        raise NotFound("member_not_found", NO_SUCH_MEMBER)
    return int(found)


async def stats_of(conn: Connection, member: Member) -> Stats:
    """The member's statistics as an expert, from their completed calls."""
    calls = expert_calls.c
    count, duration, response = (await conn.execute(select(
        func.count(), func.avg(calls.duration), func.avg(seconds_between(conn, calls.created_at, calls.connected_at)),
    ).where(calls.expert_id == member.id, calls.status == COMPLETED))).one()
    earned = 0
    if member.charity_name:
        earned = (await conn.execute(select(func.coalesce(func.sum(call_billing_records.c.amount_cents), 0))
                                     .where(call_billing_records.c.payee_id == member.id))).scalar_one()
    return Stats(total_calls=int(count), average_call_duration=round(float(duration or 0)),
                 average_response_time=round(float(response or 0)), charity_cents=int(earned))


async def profile_of(conn: Connection, member_id: int, *, viewer_id: int) -> tuple[Member, Stats]:
    """The member's profile and statistics, as ``viewer_id`` may see them (``access_member``)."""
    member = await access_member(conn, member_id, viewer_id=viewer_id)
    return member, await stats_of(conn, member)


def completed_calls(member_id: Any) -> Any:
    """SQL: the number of completed calls where ``member_id`` (a column) was the expert."""
    return (select(func.count()).select_from(expert_calls)
            .where(expert_calls.c.expert_id == member_id, expert_calls.c.status == COMPLETED)
            .scalar_subquery())


async def _ensure_expert_profile(uow: UnitOfWork, user_id: int) -> None:
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, expert_profiles).values(
        user_id=user_id, hourly_rate_cents=0, expertise="", location="", timezone="", charity_name="",
        charity_url="", charity_logo="", profile_page_views_count=0, updated_at=now()))


async def do_count_profile_view(uow: UnitOfWork, viewer_id: int, member_id: int) -> None:
    """One more view of ``member_id``'s profile, unless they are looking at themselves."""
    if viewer_id == member_id:
        return
    await _ensure_expert_profile(uow, member_id)
    await uow.conn.execute(update(expert_profiles).where(expert_profiles.c.user_id == member_id).values(
        profile_page_views_count=expert_profiles.c.profile_page_views_count + 1))


# -- expert settings


def _text(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise Invalid("invalid_request", f"{name} must be text.", field=name)
    value = value.strip()
    if len(value) > max_length:
        raise Invalid("invalid_request", f"{name} is at most {max_length} characters.", field=name)
    return check_text(value, code="invalid_request", name=name, allow="\n\t")


def check_hourly_rate(value: Any) -> int:
    """An hourly rate as clients send it (a number or its text) in cents."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid("invalid_request", "hourly_rate must be a number.", field="hourly_rate")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise Invalid("invalid_request", "hourly_rate must be a number.", field="hourly_rate") from exc
    if not rate.is_finite() or not Decimal(0) <= rate <= MAX_HOURLY_RATE:
        raise Invalid("invalid_request", f"hourly_rate must be between 0 and {MAX_HOURLY_RATE}.",
                      field="hourly_rate")
    cents = rate * 100
    if cents != cents.to_integral_value():
        raise Invalid("invalid_request", "hourly_rate has at most two decimals.", field="hourly_rate")
    return int(cents)


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value: Any) -> str:
    """An IANA time zone name (``America/Halifax``); empty: none."""
    name = _text(value, "timezone", 64)
    if name and name not in _timezones():
        raise Invalid("invalid_request", f'"{name}" is not an IANA time zone name (such as "Europe/Paris").',
                      field="timezone")
    return name


def timezone_now(name: str) -> tuple[str, str, float]:
    """(name, its abbreviation now, its UTC offset now in hours) of an IANA zone; UTC when unset."""
    zone = zoneinfo.ZoneInfo(name) if name in _timezones() else zoneinfo.ZoneInfo("UTC")
    at = now().astimezone(zone)
    offset = at.utcoffset()
    return (name if name in _timezones() else "UTC", at.tzname() or "UTC",
            offset.total_seconds() / 3600 if offset is not None else 0.0)


_SCHEME = re.compile(r"^https?$")


def check_url(value: Any, name: str) -> str:
    """An http(s) URL with a host; empty: none."""
    url = _text(value, name, MAX_URL)
    if not url:
        return ""
    parts = urlsplit(url)
    if not _SCHEME.match(parts.scheme.lower()) or not parts.hostname or any(c.isspace() for c in url):
        raise Invalid("invalid_request", f"{name} must be an http or https URL.", field=name)
    return url


def check_expert_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The expert settings among ``raw`` (others are ignored), checked, as column values."""
    out: dict[str, Any] = {}
    for name in EXPERT_SETTINGS:
        if name not in raw:
            continue
        value = raw[name]
        if name == "hourly_rate":
            out["hourly_rate_cents"] = check_hourly_rate(value)
        elif name == "expertise":
            out["expertise"] = _text(value, name, MAX_EXPERTISE)
        elif name == "location":
            out["location"] = _text(value, name, MAX_LOCATION)
        elif name == "timezone":
            out["timezone"] = check_timezone(value)
        elif name == "charity_name":
            out["charity_name"] = _text(value, name, MAX_CHARITY_NAME)
        else:
            out[name] = check_url(value, name)
    if not out:
        raise Invalid("invalid_request", f"Nothing to change: send any of {', '.join(EXPERT_SETTINGS)}.")
    return out


async def do_update_expert_settings(uow: UnitOfWork, user_id: int, raw: Mapping[str, Any]) -> None:
    """Check and store the expert settings among ``raw`` (all or nothing)."""
    values = check_expert_settings(raw)
    await _ensure_expert_profile(uow, user_id)
    await uow.conn.execute(update(expert_profiles).where(expert_profiles.c.user_id == user_id).values(
        **values, updated_at=now()))
