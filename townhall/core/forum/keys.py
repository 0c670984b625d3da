"""API keys: stored hashed; each key acts as an API user (a bot profile) with a role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound, Unauthenticated
from townhall.core.forum.models import ADMIN, USER_ACTIVE, ApiUser
from townhall.core.forum.tables import forum_api_keys, forum_profiles
from townhall.core.forum.users import UserFields, check_role, create_profile
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

KEY_PREFIX = "thf_"
MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    role_id: int
    msid: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def do_create_key(uow: UnitOfWork, name: str, role_id: int = ADMIN, key: str | None = None) -> tuple[str, KeyInfo]:
    """A new key and its API user: (the key, shown only now, its description)."""
    if not name or len(name) > MAX_NAME:
        raise Invalid("invalid_name", f"a key's name is 1-{MAX_NAME} characters")
    check_role(role_id)
    key = key or new_key()
    profile, _ = await create_profile(
        uow, UserFields(first_name=name, username=f"api_{secrets.token_hex(6)}"), is_bot=True, role_id=role_id)
    key_id = (await uow.conn.execute(insert(forum_api_keys).values(
        key_hash=hash_key(key), prefix=key[:10], name=name, user_id=profile.user_id, created_at=now(),
    ).returning(forum_api_keys.c.id))).scalar_one()
    return key, await get_key(uow.conn, key_id)


async def ensure_key(uow: UnitOfWork, key: str, name: str = "configured") -> KeyInfo:
    """Make sure ``key`` (from settings) is a valid key; create it when unknown."""
    row = (await uow.conn.execute(select(forum_api_keys.c.id).where(forum_api_keys.c.key_hash == hash_key(key)))).first()
    if row is not None:
        return await get_key(uow.conn, row[0])
    return (await do_create_key(uow, name, ADMIN, key))[1]


_KEY_SELECT = (select(forum_api_keys, forum_profiles.c.role_id, forum_profiles.c.sid, forum_profiles.c.user_status)
               .join(forum_profiles, forum_profiles.c.user_id == forum_api_keys.c.user_id))


def _info(row: dict) -> KeyInfo:  # type: ignore[type-arg]
    return KeyInfo(id=row["id"], name=row["name"], prefix=row["prefix"], role_id=row["role_id"],
                   msid=f"{row['user_id']}.{row['sid']}", created_at=row["created_at"], revoked_at=row["revoked_at"])


async def get_key(conn: Connection, key_id: int) -> KeyInfo:
    row = (await conn.execute(_KEY_SELECT.where(forum_api_keys.c.id == key_id))).mappings().first()
    if row is None:
        raise NotFound("key_not_found", f"API key {key_id} does not exist")
    return _info(dict(row))


async def list_keys(conn: Connection, *, include_revoked: bool = False) -> list[KeyInfo]:
    stmt = _KEY_SELECT.order_by(forum_api_keys.c.id)
    if not include_revoked:
        stmt = stmt.where(forum_api_keys.c.revoked_at.is_(None))
    return [_info(dict(r)) for r in (await conn.execute(stmt)).mappings()]


async def do_revoke_key(uow: UnitOfWork, key_id: int) -> KeyInfo:
    info = await get_key(uow.conn, key_id)
    if info.revoked_at is None:
        await uow.conn.execute(update(forum_api_keys).where(forum_api_keys.c.id == key_id).values(revoked_at=now()))
    return await get_key(uow.conn, key_id)


async def is_valid_key(conn: Connection, key: str) -> bool:
    row = (await conn.execute(select(forum_api_keys.c.revoked_at).where(
        forum_api_keys.c.key_hash == hash_key(key)))).first()
    return row is not None and row[0] is None


async def authenticate(conn: Connection, system: str, key: str) -> ApiUser:
    """The API user of ``key``; a wrong, revoked or disabled key is refused."""
    digest = hash_key(key)
    row = (await conn.execute(_KEY_SELECT.where(forum_api_keys.c.key_hash == digest))).mappings().first()
    # The lookup is by the key's SHA-256 (an index equality on a hash of a secret: no timing oracle).
    if row is None or row["revoked_at"] is not None or row["user_status"] != USER_ACTIVE:
        raise Unauthenticated("invalid_api_key", "incorrect API key")
    return ApiUser(key_id=row["id"], user_id=row["user_id"], role_id=row["role_id"], system=system)
