"""Phone sign-in: E.164 numbers, one-time codes (random, expiring, HMAC-stored, compared in
constant time), throttling per number and per client address, and the account a number opens.

Sending the text is the caller's job, outside the unit of work (it is a network call).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import phonenumbers
from sqlalchemy import case, delete, desc, insert, select, update

from townhall.core.accounts.tables import auth_throttle, identities, phone_codes, profiles, sms_messages, users
from townhall.core.clock import now
from townhall.core.errors import Forbidden, Invalid, RateLimited
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

PHONE = "phone"
HOUR = 3600
THROTTLED = "Our systems have detected high usage of this feature from your account. Please try again later."
WRONG_CODE = "That code is not right. Please check it and try again."
EXPIRED_CODE = "That code has expired. Please ask for a new one."
COMPLETES_PER_ADDRESS_PER_HOUR = 60
DAY = 86400
WRONG_CODES_PER_NUMBER_PER_DAY = 10
PRUNE_ONE_IN = 100  # one code request in this many also prunes old sign-in rows  # caps guessing across codes: at most 10 guesses a day


@dataclass(frozen=True, slots=True)
class CodePolicy:
    secret: str
    length: int = 4
    ttl: int = 600
    attempts: int = 5
    sends_per_number: int = 5
    sends_per_address: int = 30


@dataclass(frozen=True, slots=True)
class CodeIssued:
    code: str | None  # None when the number is blocked (nothing is sent)
    is_blocked: bool
    attempts_remaining: int


def normalize_phone(raw: Any) -> str:
    """E.164 (``+14155550100``); numbers without a country code are refused."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("invalid_phone_number", "Please enter a valid phone number.")
    text = raw.strip()
    if not text.startswith("+") and text.lstrip().isdigit():
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise Invalid("invalid_phone_number", "Please enter a valid phone number.") from exc
    if not phonenumbers.is_possible_number(number):
        raise Invalid("invalid_phone_number", "Please enter a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: Any) -> str | None:
    try:
        return normalize_phone(raw)
    except Invalid:
        return None


def _code_hash(secret: str, phone: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


async def _hit(uow: UnitOfWork, key: str, window: int) -> int:
    """Count one more use of ``key`` in its fixed window; returns the count including this one."""
    stamp = now()
    cutoff = stamp - timedelta(seconds=window)
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, auth_throttle).values(
        key=key, window_start=stamp, count=0))
    expired = auth_throttle.c.window_start < cutoff
    return int((await uow.conn.execute(update(auth_throttle).where(auth_throttle.c.key == key).values(
        count=case((expired, 1), else_=auth_throttle.c.count + 1),
        window_start=case((expired, stamp), else_=auth_throttle.c.window_start),
    ).returning(auth_throttle.c.count))).scalar_one())


async def do_prune(uow: UnitOfWork) -> None:
    """Forget what no longer matters: finished throttle windows, dead codes, day-old texts."""
    stamp = now()
    await uow.conn.execute(delete(auth_throttle).where(auth_throttle.c.window_start < stamp - timedelta(seconds=DAY)))
    await uow.conn.execute(delete(phone_codes).where(phone_codes.c.expires_at < stamp))
    await uow.conn.execute(delete(sms_messages).where(sms_messages.c.created_at < stamp - timedelta(seconds=DAY)))


async def _count(conn: Connection, key: str, window: int) -> int:
    """The current count of ``key`` in its window (0 once the window is over)."""
    row = (await conn.execute(select(auth_throttle.c.count, auth_throttle.c.window_start).where(
        auth_throttle.c.key == key))).first()
    if row is None or row.window_start < now() - timedelta(seconds=window):
        return 0
    return int(row.count)


async def user_of_phone(conn: Connection, phone: str) -> int | None:
    return (await conn.execute(select(identities.c.user_id).where(
        identities.c.kind == PHONE, identities.c.value == phone))).scalar_one_or_none()


async def phone_of_user(conn: Connection, user_id: int) -> str | None:
    return (await conn.execute(select(identities.c.value).where(
        identities.c.kind == PHONE, identities.c.user_id == user_id).limit(1))).scalar_one_or_none()


async def do_request_code(uow: UnitOfWork, raw_phone: Any, address: str, policy: CodePolicy) -> CodeIssued:
    """A new code for the number (replacing any pending one), unless it or the address is throttled
    (RateLimited) or the number's account is banned (``is_blocked``)."""
    phone = normalize_phone(raw_phone)
    if secrets.randbelow(PRUNE_ONE_IN) == 0:
        await do_prune(uow)
    by_address = await _hit(uow, f"send:address:{address}", HOUR)
    by_number = await _hit(uow, f"send:phone:{phone}", HOUR)
    if by_address > policy.sends_per_address or by_number > policy.sends_per_number:
        raise RateLimited("throttled", THROTTLED)
    remaining = max(0, policy.sends_per_number - by_number)
    user_id = await user_of_phone(uow.conn, phone)
    if user_id is not None:
        banned = (await uow.conn.execute(select(users.c.banned).where(users.c.id == user_id))).scalar_one_or_none()
        if banned:
            return CodeIssued(code=None, is_blocked=True, attempts_remaining=remaining)
    code = f"{secrets.randbelow(10 ** policy.length):0{policy.length}d}"
    stamp = now()
    values = {"code_hash": _code_hash(policy.secret, phone, code), "expires_at": stamp + timedelta(seconds=policy.ttl),
              "failed_attempts": 0, "created_at": stamp}
    await uow.conn.execute(delete(phone_codes).where(phone_codes.c.phone == phone))
    await uow.conn.execute(insert(phone_codes).values(phone=phone, **values))
    return CodeIssued(code=code, is_blocked=False, attempts_remaining=remaining)


@dataclass(frozen=True, slots=True)
class CodeCheck:
    verified: bool
    attempts_remaining: int
    message: str | None = None


async def do_check_code(uow: UnitOfWork, raw_phone: Any, raw_code: Any, address: str, policy: CodePolicy) -> CodeCheck:
    """Verify a code (constant time). A right code is used up; each wrong one costs an attempt and
    the code is void once they are spent."""
    phone = normalize_phone(raw_phone)
    if isinstance(raw_code, int) and not isinstance(raw_code, bool):
        raw_code = str(raw_code)
    if not isinstance(raw_code, str) or not raw_code.strip():
        raise Invalid("missing_code", "Please enter the code we sent you.")
    if await _hit(uow, f"complete:address:{address}", HOUR) > COMPLETES_PER_ADDRESS_PER_HOUR:
        raise RateLimited("throttled", THROTTLED)
    if await _count(uow.conn, f"wrong:phone:{phone}", DAY) >= WRONG_CODES_PER_NUMBER_PER_DAY:
        raise RateLimited("throttled", THROTTLED)
    row = (await uow.conn.execute(select(phone_codes).where(phone_codes.c.phone == phone))).first()
    if row is None or row.expires_at <= now() or row.failed_attempts >= policy.attempts:
        return CodeCheck(False, 0, EXPIRED_CODE)
    given = _code_hash(policy.secret, phone, raw_code.strip()[:32])
    if hmac.compare_digest(given, row.code_hash):
        await uow.conn.execute(delete(phone_codes).where(phone_codes.c.phone == phone))
        return CodeCheck(True, policy.attempts - row.failed_attempts)
    failed = row.failed_attempts + 1
    await _hit(uow, f"wrong:phone:{phone}", DAY)
    await uow.conn.execute(update(phone_codes).where(phone_codes.c.phone == phone).values(failed_attempts=failed))
    remaining = max(0, policy.attempts - failed)
    return CodeCheck(False, remaining, WRONG_CODE if remaining else EXPIRED_CODE)


@dataclass(frozen=True, slots=True)
class Account:
    user_id: int
    created: bool
    waitlisted: bool


async def do_open_account(uow: UnitOfWork, phone: str, *, waitlist: bool, invites_per_user: int,
                          invited_by: int | None = None) -> Account:
    """The user a verified number belongs to, created on first sign-in (with its profile). With
    ``waitlist`` a new account waits unless it was ``invited_by`` someone (the social domain, which
    knows invites, says who: ``social.invites.do_open_account``). A banned account is refused."""
    conn = uow.conn
    user_id = await user_of_phone(conn, phone)
    if user_id is not None:
        row = (await conn.execute(select(users.c.banned, users.c.deleted_at).where(users.c.id == user_id))).one()
        if row.banned or row.deleted_at is not None:
            raise Forbidden("banned", "This account is blocked.")
        await ensure_profile(uow, user_id, waitlisted=False, num_invites=invites_per_user)
        waitlisted = bool((await conn.execute(select(profiles.c.waitlisted).where(
            profiles.c.user_id == user_id))).scalar_one())
        return Account(user_id=user_id, created=False, waitlisted=waitlisted)
    stamp = now()
    user_id = (await conn.execute(insert(users).values(
        role="user", invisible=False, banned=False, custom={}, created_at=stamp, updated_at=stamp,
    ).returning(users.c.id))).scalar_one()
    await conn.execute(insert(identities).values(user_id=user_id, kind=PHONE, value=phone))
    waitlisted = waitlist and invited_by is None
    await ensure_profile(uow, user_id, waitlisted=waitlisted, num_invites=0 if waitlisted else invites_per_user,
                         invited_by=invited_by)
    return Account(user_id=user_id, created=True, waitlisted=waitlisted)


async def ensure_profile(uow: UnitOfWork, user_id: int, *, waitlisted: bool = False, num_invites: int = 0,
                         invited_by: int | None = None) -> None:
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, profiles).values(
        user_id=user_id, waitlisted=waitlisted, num_invites=num_invites, invited_by=invited_by, created_at=now()))


async def do_record_sms(uow: UnitOfWork, phone: str, body: str, *, keep_seconds: int) -> None:
    """Keep a text sent by the development (console) SMS backend for ``townhall sms last``, and
    forget those older than ``keep_seconds`` (a code's lifetime: codes do not outlive it here).
    The table only ever holds that window, so the prune is cheap."""
    stamp = now()
    await uow.conn.execute(delete(sms_messages).where(sms_messages.c.created_at < stamp - timedelta(
        seconds=keep_seconds)))
    await uow.conn.execute(insert(sms_messages).values(phone=phone, body=body, created_at=stamp))


async def last_sms(conn: Connection, phone: str) -> tuple[str, Any] | None:
    row = (await conn.execute(select(sms_messages.c.body, sms_messages.c.created_at).where(
        sms_messages.c.phone == phone).order_by(desc(sms_messages.c.id)).limit(1))).first()
    return (row.body, row.created_at) if row else None
