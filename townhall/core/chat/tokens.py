"""Chat token revocation: user tokens issued before a cutoff are refused.

Two cutoffs, as Stream has them: app-wide (the app setting ``revoke_tokens_issued_before``) and
per user (``revoke_tokens_issued_before`` set on a user). A token issued before the later of the
two — or one without ``iat`` while a cutoff is set, since its age cannot be known — is revoked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from townhall.core import app_settings
from townhall.core.chat.permissions import Actor
from townhall.core.chat.tables import token_revocations
from townhall.core.clock import parse_time
from townhall.core.errors import Forbidden, Invalid
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

SETTING = "revoke_tokens_issued_before"


def parse_cutoff(value: Any) -> datetime | None:
    """A cutoff as clients send it (RFC 3339 text; null or "" clears it)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise Invalid("invalid_field", f"{SETTING} must be an RFC 3339 time or null")


async def do_revoke_user_tokens(
    uow: UnitOfWork, actor: Actor, user_ids: Sequence[int], before: datetime | None
) -> None:
    """Refuse these users' tokens issued before ``before`` (None: stop refusing them). Server only."""
    if not actor.server:
        raise Forbidden("not_allowed", "only server-side calls may revoke tokens")
    if not user_ids:
        return
    await uow.conn.execute(delete(token_revocations).where(token_revocations.c.user_id.in_(list(user_ids))))
    if before is not None:
        await uow.conn.execute(insert(token_revocations),
                               [{"user_id": i, "issued_before": before} for i in dict.fromkeys(user_ids)])


async def cutoff(conn: Connection, user_id: int) -> datetime | None:
    """The later of the app-wide and the user's cutoff, if any."""
    app_wide = app_cutoff(await app_settings.get(conn))
    own = (await conn.execute(select(token_revocations.c.issued_before)
                              .where(token_revocations.c.user_id == user_id))).scalar()
    found = [t for t in (app_wide, own) if t is not None]
    return max(found) if found else None


def app_cutoff(settings: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_cutoff(settings.get(SETTING))
    except Invalid:
        return None


def is_revoked(claims: Mapping[str, Any], before: datetime | None) -> bool:
    """Whether a token with these claims was issued before the cutoff (to the second, as ``iat`` is)."""
    if before is None:
        return False
    issued = claims.get("iat")
    if not isinstance(issued, (int, float)) or isinstance(issued, bool):
        return True
    return issued < math.floor(before.timestamp())
