"""Signed-in sessions: an opaque, revocable ``auth_token`` (only its SHA-256 is stored) and
HS256 JWT access/refresh tokens naming the session (``sid``), so logging out revokes all three.

Refresh tokens rotate (OAuth 2.1, RFC 6819 section 5.2.2.3): a refresh token carries the session's
refresh generation (``gen``), each refresh moves the session to the next generation and answers a
token of it, so a token works once. Presenting one of an older generation is a replay (the token
was used before: likely stolen) and revokes the whole session. Of two refreshes racing with one
token, the conditional UPDATE lets exactly one win; the other is a replay like any other."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import insert, select, update

from townhall.core.accounts.tables import auth_sessions, profiles, users
from townhall.core.clock import now
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

LEEWAY = 5  # seconds of clock skew


class TokenInvalid(Exception):
    """A JWT that is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: int
    user_id: int
    banned: bool
    waitlisted: bool
    role: str
    refresh_generation: int = 0


@dataclass(frozen=True, slots=True)
class Tokens:
    auth_token: str
    access_token: str
    refresh_token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def encode_jwt(secret: str, *, kind: str, user_id: int, session_id: int, ttl: int,
               generation: int | None = None) -> str:
    issued = int(time.time())
    claims: dict[str, Any] = {"token_type": kind, "user_id": user_id, "sid": session_id, "iat": issued,
                              "exp": issued + ttl, "jti": secrets.token_hex(8)}
    if generation is not None:
        claims["gen"] = generation
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_jwt(token: str, secret: str, *, kind: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=LEEWAY,
                            options={"require": ["exp", "sid", "token_type"]})
    except jwt.PyJWTError as exc:
        raise TokenInvalid(str(exc)) from exc
    if claims.get("token_type") != kind or not isinstance(claims.get("sid"), int):
        raise TokenInvalid("wrong token type")
    return claims


def issue_jwts(secret: str, user_id: int, session_id: int, access_ttl: int, refresh_ttl: int,
               generation: int = 0) -> tuple[str, str]:
    """An access token and a refresh token of the session's refresh ``generation`` (its current one)."""
    return (encode_jwt(secret, kind="access", user_id=user_id, session_id=session_id, ttl=access_ttl),
            encode_jwt(secret, kind="refresh", user_id=user_id, session_id=session_id, ttl=refresh_ttl,
                       generation=generation))


async def do_create_session(
    uow: UnitOfWork, user_id: int, *, secret: str, access_ttl: int, refresh_ttl: int, device_id: str | None = None
) -> Tokens:
    auth_token = secrets.token_urlsafe(32)
    session_id = (await uow.conn.execute(insert(auth_sessions).values(
        user_id=user_id, token_hash=hash_token(auth_token), device_id=(device_id or None) and device_id[:64],
        created_at=now(),
    ).returning(auth_sessions.c.id))).scalar_one()
    access, refresh = issue_jwts(secret, user_id, session_id, access_ttl, refresh_ttl)
    return Tokens(auth_token=auth_token, access_token=access, refresh_token=refresh)


_SESSION = (
    select(auth_sessions.c.id, auth_sessions.c.user_id, auth_sessions.c.refresh_generation, users.c.banned,
           users.c.role, profiles.c.waitlisted)
    .select_from(auth_sessions.join(users, users.c.id == auth_sessions.c.user_id)
                 .outerjoin(profiles, profiles.c.user_id == users.c.id))
    .where(auth_sessions.c.revoked_at.is_(None), users.c.deleted_at.is_(None), users.c.deactivated_at.is_(None))
)


def _info(row: Any) -> SessionInfo | None:
    if row is None:
        return None
    return SessionInfo(session_id=row.id, user_id=row.user_id, banned=bool(row.banned),
                       waitlisted=bool(row.waitlisted), role=row.role,
                       refresh_generation=int(row.refresh_generation or 0))


async def session_by_auth_token(conn: Connection, token: str) -> SessionInfo | None:
    return _info((await conn.execute(_SESSION.where(auth_sessions.c.token_hash == hash_token(token)))).first())


async def session_by_id(conn: Connection, session_id: int) -> SessionInfo | None:
    return _info((await conn.execute(_SESSION.where(auth_sessions.c.id == session_id))).first())


async def do_rotate_refresh_token(uow: UnitOfWork, token: str, *, secret: str, access_ttl: int,
                                  refresh_ttl: int) -> tuple[str, str] | None:
    """``(access, refresh)`` for a valid refresh token of the session's current generation, which
    it uses up; None for anything else. A replayed (already used) token revokes the session, in
    this unit of work: the caller commits it and answers the refusal afterwards."""
    try:
        claims = decode_jwt(token, secret, kind="refresh")
    except TokenInvalid:
        return None
    generation = claims.get("gen", 0)  # tokens issued before rotation existed are generation 0
    if not isinstance(generation, int) or isinstance(generation, bool):
        return None
    info = await session_by_id(uow.conn, claims["sid"])
    if info is None or info.banned:
        return None
    rotated = (await uow.conn.execute(update(auth_sessions).where(
        auth_sessions.c.id == info.session_id, auth_sessions.c.revoked_at.is_(None),
        auth_sessions.c.refresh_generation == generation,
    ).values(refresh_generation=generation + 1).returning(auth_sessions.c.id))).first()
    if rotated is None:  # used before, or lost a race with its other presentation: a replay
        await do_revoke_session(uow, info.session_id)
        return None
    return issue_jwts(secret, info.user_id, info.session_id, access_ttl, refresh_ttl, generation + 1)


async def do_revoke_session(uow: UnitOfWork, session_id: int) -> None:
    await uow.conn.execute(update(auth_sessions).where(
        auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None)).values(revoked_at=now()))


async def do_revoke_user_sessions(uow: UnitOfWork, user_id: int) -> None:
    await uow.conn.execute(update(auth_sessions).where(
        auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_at.is_(None)).values(revoked_at=now()))
