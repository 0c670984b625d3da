"""``oauth_token``s: issued to an application for a member, resolved on every API call.

A token is 32 random bytes (URL-safe text); only its SHA-256 is stored, so a copy of the database
holds no usable token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from townhall.core.accounts.sessions import hash_token
from townhall.core.accounts.tables import users
from townhall.core.clock import now
from townhall.core.experts.oauth_tables import oauth_tokens
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection


@dataclass(frozen=True, slots=True)
class TokenInfo:
    user_id: int
    client_id: str | None
    scope: str
    expires_at: datetime | None


async def issue(uow: UnitOfWork, user_id: int, *, client_id: str | None = None, scope: str = "",
                ttl: int = 0) -> str:
    """A new token for ``user_id`` (``ttl`` seconds, 0: until revoked); the only time it is seen."""
    return (await issue_with_id(uow, user_id, client_id=client_id, scope=scope, ttl=ttl))[0]


async def issue_with_id(uow: UnitOfWork, user_id: int, *, client_id: str | None = None, scope: str = "",
                        ttl: int = 0) -> tuple[str, int]:
    """``issue``, with the token's row id (what an authorization code remembers, to revoke it)."""
    token = secrets.token_urlsafe(32)
    at = now()
    token_id = (await uow.conn.execute(insert(oauth_tokens).values(
        token_hash=hash_token(token), user_id=user_id, client_id=client_id, scope=scope, created_at=at,
        expires_at=at + timedelta(seconds=ttl) if ttl else None).returning(oauth_tokens.c.id))).scalar_one()
    return token, token_id


async def resolve(conn: Connection, token: str) -> TokenInfo | None:
    """Whose token this is, or None when it is unknown, expired or revoked, or its member is
    banned, deactivated or deleted."""
    if not token or len(token) > 256:
        return None
    row = (await conn.execute(
        select(oauth_tokens, users.c.banned, users.c.deactivated_at, users.c.deleted_at)
        .join(users, users.c.id == oauth_tokens.c.user_id)
        .where(oauth_tokens.c.token_hash == hash_token(token)))).first()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now()):
        return None
    if row.banned or row.deactivated_at is not None or row.deleted_at is not None:
        return None
    return TokenInfo(user_id=row.user_id, client_id=row.client_id, scope=row.scope, expires_at=row.expires_at)


async def do_revoke_for_client(uow: UnitOfWork, client_id: str) -> None:
    """Every token of an application stops working (its secret was regenerated or it was deleted)."""
    await uow.conn.execute(update(oauth_tokens).where(oauth_tokens.c.client_id == client_id,
                                                      oauth_tokens.c.revoked_at.is_(None)).values(revoked_at=now()))


async def do_revoke_grant(uow: UnitOfWork, user_id: int, client_id: str) -> int:
    """Every token ``client_id`` holds for ``user_id`` stops working (the member withdrew the
    application's access): how many were live."""
    result = await uow.conn.execute(update(oauth_tokens).where(
        oauth_tokens.c.user_id == user_id, oauth_tokens.c.client_id == client_id,
        oauth_tokens.c.revoked_at.is_(None)).values(revoked_at=now()))
    return result.rowcount or 0


async def do_revoke(uow: UnitOfWork, token_id: int) -> None:
    """One token stops working (its authorization code was presented twice)."""
    await uow.conn.execute(update(oauth_tokens).where(oauth_tokens.c.id == token_id,
                                                      oauth_tokens.c.revoked_at.is_(None)).values(revoked_at=now()))


async def do_revoke_issued_to(uow: UnitOfWork, token: str, client_id: str) -> None:
    """The token stops working if it was issued to ``client_id`` (anything else is left alone)."""
    if not token or len(token) > 256:
        return
    await uow.conn.execute(update(oauth_tokens).where(
        oauth_tokens.c.token_hash == hash_token(token), oauth_tokens.c.client_id == client_id,
        oauth_tokens.c.revoked_at.is_(None)).values(revoked_at=now()))
