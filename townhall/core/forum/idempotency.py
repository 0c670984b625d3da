"""Idempotent creates: the answer to a create request sent with an ``Idempotency-Key`` is kept
for a day (per API key), in the transaction of the create itself; the same key again, for the same
path and the same body, answers it. The same key with another path or body is a client error (409)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select

from townhall.core.clock import now
from townhall.core.errors import Conflict, Invalid
from townhall.core.forum.models import ApiUser
from townhall.core.forum.tables import forum_idempotency
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

KEEP = timedelta(hours=24)
MAX_KEY = 255


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise Invalid("invalid_idempotency_key", f"Idempotency-Key is 1-{MAX_KEY} printable characters")
    return key


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def recall(conn: Connection, api: ApiUser, key: str, path: str, body_hash: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(forum_idempotency.c.path, forum_idempotency.c.request_hash,
                                     forum_idempotency.c.response).where(
        forum_idempotency.c.key_id == api.key_id, forum_idempotency.c.idempotency_key == key,
        forum_idempotency.c.created_at > now() - KEEP))).first()
    if row is None:
        return None
    if row.path != path or row.request_hash != body_hash:
        raise Conflict("idempotency_key_reused", "this Idempotency-Key was used for another request "
                                                 "(another path or body)")
    return dict(row.response)


async def remember(uow: UnitOfWork, api: ApiUser, key: str, path: str, body_hash: str,
                   response: dict[str, Any]) -> None:
    stamp = now()
    # Expired answers go (this key's own included); a live one makes the insert fail: the caller
    # then answers what the request that got there first answered.
    await uow.conn.execute(delete(forum_idempotency).where(
        forum_idempotency.c.key_id == api.key_id, forum_idempotency.c.created_at <= stamp - KEEP))
    await uow.conn.execute(insert(forum_idempotency).values(key_id=api.key_id, idempotency_key=key, path=path,
                                                            request_hash=body_hash, response=response,
                                                            created_at=stamp))
