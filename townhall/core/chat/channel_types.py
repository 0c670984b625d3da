"""Channel types and their configuration flags.

The five built-in types (messaging, team, livestream, commerce, gaming) are created by migration
0003; types created through the API start from ``_DEFAULT``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, select, update

from townhall.core.chat.models import ChannelType
from townhall.core.chat.tables import channel_types, channels
from townhall.core.clock import now
from townhall.core.errors import Conflict, Invalid, NotFound
from townhall.db.database import Connection

BOOL_FLAGS = (
    "typing_events", "read_events", "connect_events", "search", "reactions", "replies", "quotes",
    "mutes", "uploads", "url_enrichment", "custom_events", "push_notifications", "reminders",
    "mark_messages_pending", "polls", "skip_last_msg_update_for_system_msgs",
)
OTHER_FIELDS = {
    "message_retention": str,
    "max_message_length": int,
    "automod": str,
    "automod_behavior": str,
    "blocklist_behavior": str,
    "commands": list,
    "permissions": list,
    "grants": dict,
    "automod_thresholds": dict,
}
_DEFAULT: dict[str, Any] = {
    **{flag: True for flag in BOOL_FLAGS},
    "reminders": False,
    "mark_messages_pending": False,
    "polls": False,
    "skip_last_msg_update_for_system_msgs": False,
    "message_retention": "infinite",
    "max_message_length": 5000,
    "automod": "disabled",
    "automod_behavior": "flag",
    "commands": ["giphy"],
}
_TYPE_BY_NAME = select(channel_types).where(channel_types.c.name == bindparam("name"))
NAME_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
MAX_LENGTH_CAP = 20_000


def validate_config(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in BOOL_FLAGS:
            if not isinstance(value, bool):
                raise Invalid("invalid_channel_type", f"{key} must be a boolean", field=key)
        elif key in OTHER_FIELDS:
            if not isinstance(value, OTHER_FIELDS[key]) or isinstance(value, bool):
                raise Invalid("invalid_channel_type", f"{key} has the wrong type", field=key)
            if key == "max_message_length" and not 1 <= value <= MAX_LENGTH_CAP:
                raise Invalid(
                    "invalid_channel_type", f"max_message_length must be between 1 and {MAX_LENGTH_CAP}"
                )
        elif key in ("name", "created_at", "updated_at", "duration"):
            continue
        else:
            raise Invalid("invalid_channel_type", f"unknown channel type setting {key}", field=key)
        out[key] = value
    return out


def _type(row: Any) -> ChannelType:
    return ChannelType(name=row.name, config=row.config, created_at=row.created_at, updated_at=row.updated_at)


async def list_types(conn: Connection) -> list[ChannelType]:
    rows = await conn.execute(select(channel_types).order_by(channel_types.c.name))
    return [_type(r) for r in rows]


async def get_type(conn: Connection, name: str) -> ChannelType:
    row = (await conn.execute(_TYPE_BY_NAME, {"name": name})).first()
    if row is None:
        raise NotFound("channel_type_not_found", f'channel type "{name}" does not exist')
    return _type(row)


async def create_type(conn: Connection, name: Any, settings: Mapping[str, Any]) -> ChannelType:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise Invalid("invalid_channel_type", "name must be 1-64 characters of a-z, 0-9, _ or -")
    found = (await conn.execute(select(channel_types.c.name).where(channel_types.c.name == name))).first()
    if found is not None:
        raise Conflict("channel_type_exists", f'channel type "{name}" already exists')
    config = {**_DEFAULT, **validate_config(settings)}
    stamp = now()
    await conn.execute(insert(channel_types).values(name=name, config=config, created_at=stamp, updated_at=stamp))
    return await get_type(conn, name)


async def update_type(conn: Connection, name: str, settings: Mapping[str, Any]) -> ChannelType:
    current = await get_type(conn, name)
    config = {**current.config, **validate_config(settings)}
    await conn.execute(
        update(channel_types).where(channel_types.c.name == name).values(config=config, updated_at=now())
    )
    return await get_type(conn, name)


async def delete_type(conn: Connection, name: str) -> None:
    await get_type(conn, name)
    in_use = (await conn.execute(select(exists().where(channels.c.type == name)))).scalar()
    if in_use:
        raise Invalid("channel_type_in_use", f'channel type "{name}" has channels; delete them first')
    await conn.execute(delete(channel_types).where(channel_types.c.name == name))
