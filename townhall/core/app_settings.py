"""App-wide settings the chat surface exposes at GET/PATCH /app, stored in the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from sqlalchemy import Column, String, Table, insert, select, update

from townhall.core.clock import iso, parse_time
from townhall.core.errors import Invalid
from townhall.core.uow import UnitOfWork
from townhall.db.base import Json, metadata
from townhall.db.database import Connection

app_settings = Table(
    "app_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Json, nullable=False),
)
KEY = "app"
DEFAULTS: dict[str, Any] = {
    "name": "townhall",
    "organization": "townhall",
    "disable_auth_checks": False,
    "disable_permissions_checks": False,
    "enforce_unique_usernames": "no",
    "permission_version": "v2",
    "multi_tenant_enabled": False,
    "webhook_url": "",
    "webhook_events": [],
    "image_moderation_enabled": False,
    "custom_action_handler_url": "",
    "user_search_disallowed_roles": [],
    "reminders_interval": 0,
    "revoke_tokens_issued_before": None,  # chat user tokens issued before it are refused
}
_TYPES = {k: type(v) for k, v in DEFAULTS.items() if v is not None}
_TIMES = {k for k, v in DEFAULTS.items() if v is None}  # RFC 3339 text or null


async def get(conn: Connection) -> dict[str, Any]:
    row = (await conn.execute(select(app_settings.c.value).where(app_settings.c.key == KEY))).scalar()
    return {**DEFAULTS, **(row or {})}


async def change(uow: UnitOfWork, changes: Mapping[str, Any]) -> dict[str, Any]:
    changes = dict(changes)
    for key, value in changes.items():
        if key in _TIMES:
            changes[key] = _time_setting(key, value)
            continue
        if key not in _TYPES:
            continue  # kept as given: settings of features this server does not have yet
        if not isinstance(value, _TYPES[key]):
            raise Invalid("invalid_setting", f"app setting {key} must be of type {_TYPES[key].__name__}")
    if key_values := dict(changes):
        if key_values.get("enforce_unique_usernames") not in (None, "no", "app", "team"):
            raise Invalid("invalid_setting", "enforce_unique_usernames must be no, app or team")
    stored = (await uow.conn.execute(select(app_settings.c.value).where(app_settings.c.key == KEY))).scalar()
    merged = {**(stored or {}), **changes}
    if stored is None:
        await uow.conn.execute(insert(app_settings).values(key=KEY, value=merged))
    else:
        await uow.conn.execute(update(app_settings).where(app_settings.c.key == KEY).values(value=merged))
    return {**DEFAULTS, **merged}


def _time_setting(key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return iso(parse_time(value)) if isinstance(value, str) else _bad_time(key)
    except ValueError:
        return _bad_time(key)


def _bad_time(key: str) -> NoReturn:
    raise Invalid("invalid_setting", f"app setting {key} must be an RFC 3339 time or null")
