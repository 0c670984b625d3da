"""Users: one table for every surface; each surface names a user through an identity."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from townhall.core import filters
from townhall.core.accounts.events import UserDeleted, UserUpdated
from townhall.core.accounts.models import ROLES, User
from townhall.core.accounts.tables import identities, users
from townhall.core.clock import now
from townhall.core.errors import Invalid, NotFound
from townhall.core.events import user_topic
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

CHAT = "chat"
MAX_ID_LENGTH = 255
# Stream user fields that are columns; everything else a client sends is a custom field.
COLUMN_FIELDS = ("name", "image", "role", "language", "invisible")
READ_ONLY_FIELDS = frozenset(
    {"id", "created_at", "updated_at", "last_active", "online", "banned", "deactivated_at",
     "deleted_at", "shadow_banned", "devices", "mutes", "channel_mutes",
     "unread_count", "total_unread_count", "unread_channels", "unread_threads", "revoke_tokens_issued_before"}
)

_chat_ident = identities.alias("chat_ident")
_chat_id = func.coalesce(_chat_ident.c.value, cast(users.c.id, String)).label("chat_id")
_user_select = select(users, _chat_id).select_from(
    users.outerjoin(_chat_ident, and_(_chat_ident.c.user_id == users.c.id, _chat_ident.c.kind == CHAT))
)

_USERS_BY_ID = _user_select.where(users.c.id.in_(bindparam("ids", expanding=True)))
_USERS_BY_CHAT_ID = _user_select.where(_chat_ident.c.value.in_(bindparam("chat_ids", expanding=True)))

USER_FILTER_FIELDS: dict[str, Any] = {
    "id": _chat_id,
    "name": users.c.name,
    "role": users.c.role,
    "created_at": users.c.created_at,
    "updated_at": users.c.updated_at,
    "last_active": users.c.last_active,
    "banned": users.c.banned,
    "language": users.c.language,
}


def _user(row: RowMapping) -> User:
    return User(
        id=row["id"], chat_id=row["chat_id"], name=row["name"], image=row["image"], role=row["role"],
        language=row["language"], invisible=row["invisible"], banned=row["banned"],
        custom=row["custom"] or {}, created_at=row["created_at"], updated_at=row["updated_at"],
        last_active=row["last_active"], deactivated_at=row["deactivated_at"],
        deleted_at=row["deleted_at"],
    )


@dataclass(slots=True)
class UserFields:
    """A user as a surface describes it: known fields plus free-form custom data."""

    chat_id: str
    name: str | None = None
    image: str | None = None
    role: str | None = None
    language: str | None = None
    invisible: bool | None = None
    custom: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserFields:
        chat_id = data.get("id")
        check_user_id(chat_id)
        custom = {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS and k not in COLUMN_FIELDS}
        out = cls(chat_id=chat_id, custom=custom)  # type: ignore[arg-type]
        for name in COLUMN_FIELDS:
            if name in data and data[name] is not None:
                setattr(out, name, data[name])
        out.validate()
        return out

    def validate(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise Invalid("invalid_role", f'user role "{self.role}" is not a valid role', field="role")
        for name in ("name", "image", "language"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise Invalid("invalid_field", f"user.{name} must be a string", field=name)
        if self.invisible is not None and not isinstance(self.invisible, bool):
            raise Invalid("invalid_field", "user.invisible must be a boolean", field="invisible")


def check_user_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("invalid_user_id", "user.id is a required string field", field="id")
    if len(value) > MAX_ID_LENGTH:
        raise Invalid("invalid_user_id", f"user.id is longer than {MAX_ID_LENGTH} characters", field="id")
    if any(c.isspace() for c in value) or any(c in value for c in ",*%"):
        raise Invalid("invalid_user_id", f'user.id "{value}" contains forbidden characters', field="id")
    return value


async def get_users(conn: Connection, ids: Iterable[int]) -> dict[int, User]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (await conn.execute(_USERS_BY_ID, {"ids": wanted})).mappings()
    return {row["id"]: _user(row) for row in rows}


async def get_user(conn: Connection, user_id: int) -> User:
    found = await get_users(conn, [user_id])
    if user_id not in found:
        raise NotFound("user_not_found", f"user {user_id} does not exist")
    return found[user_id]


async def get_users_by_chat_id(conn: Connection, chat_ids: Iterable[str]) -> dict[str, User]:
    wanted = list(set(chat_ids))
    if not wanted:
        return {}
    rows = (await conn.execute(_USERS_BY_CHAT_ID, {"chat_ids": wanted})).mappings()
    return {row["chat_id"]: _user(row) for row in rows}


async def access_chat_user(conn: Connection, chat_id: str) -> User:
    found = await get_users_by_chat_id(conn, [chat_id])
    if chat_id not in found:
        raise NotFound("user_not_found", f'user "{chat_id}" does not exist')
    return found[chat_id]


async def require_chat_users(conn: Connection, chat_ids: Sequence[str]) -> dict[str, User]:
    found = await get_users_by_chat_id(conn, chat_ids)
    missing = [c for c in dict.fromkeys(chat_ids) if c not in found]
    if missing:
        raise Invalid(
            "users_not_found",
            f"The following users are specified but don't exist: {', '.join(missing)}",
            user_ids=missing,
        )
    return found


async def upsert_chat_users(
    uow: UnitOfWork, specs: Sequence[UserFields], *, replace: bool = True
) -> list[User]:
    """Create or update users named by chat id. ``replace`` replaces custom data (Stream upsert)."""
    conn = uow.conn
    existing = await get_users_by_chat_id(conn, [s.chat_id for s in specs])
    stamp = now()
    ids: list[int] = []
    for spec in specs:
        values: dict[str, Any] = {k: getattr(spec, k) for k in COLUMN_FIELDS if getattr(spec, k) is not None}
        user = existing.get(spec.chat_id)
        if user is None:
            values.setdefault("role", "user")
            values.setdefault("invisible", False)
            user_id = (
                await conn.execute(
                    insert(users).values(
                        **values, banned=False, custom=spec.custom, created_at=stamp, updated_at=stamp
                    ).returning(users.c.id)
                )
            ).scalar_one()
            await conn.execute(insert(identities).values(user_id=user_id, kind=CHAT, value=spec.chat_id))
        else:
            user_id = user.id
            custom = spec.custom if replace else {**user.custom, **spec.custom}
            if replace:
                for name in ("name", "image", "language"):
                    values.setdefault(name, None)
            await conn.execute(
                update(users).where(users.c.id == user_id).values(**values, custom=custom, updated_at=stamp)
            )
        ids.append(user_id)
    result = await get_users(conn, ids)
    out = [result[i] for i in ids]
    for u in out:
        uow.emit(UserUpdated(topic=user_topic(u.id), user=u))
    return out


async def partial_update_user(
    uow: UnitOfWork, user: User, set_: Mapping[str, Any], unset: Sequence[str]
) -> User:
    bad = [k for k in list(set_) + list(unset) if k in READ_ONLY_FIELDS]
    if bad:
        raise Invalid("read_only_field", f"cannot change the read-only field(s): {', '.join(bad)}")
    values: dict[str, Any] = {}
    custom = dict(user.custom)
    for key, value in set_.items():
        if key in COLUMN_FIELDS:
            values[key] = value
        else:
            custom[key] = value
    for key in unset:
        if key in COLUMN_FIELDS:
            if key in ("role", "invisible"):
                raise Invalid("invalid_unset", f"field {key} cannot be unset")
            values[key] = None
        else:
            custom.pop(key, None)
    probe = UserFields(chat_id=user.chat_id, **{k: v for k, v in values.items() if v is not None})
    probe.validate()
    await uow.conn.execute(
        update(users).where(users.c.id == user.id).values(**values, custom=custom, updated_at=now())
    )
    fresh = await get_user(uow.conn, user.id)
    uow.emit(UserUpdated(topic=user_topic(fresh.id), user=fresh))
    return fresh


async def set_user_state(
    uow: UnitOfWork, user_ids: Sequence[int], *, deactivated: bool | None = None, deleted: bool | None = None
) -> list[User]:
    values: dict[str, datetime | None] = {}
    stamp = now()
    if deactivated is not None:
        values["deactivated_at"] = stamp if deactivated else None
    if deleted is not None:
        values["deleted_at"] = stamp if deleted else None
    if user_ids:
        await uow.conn.execute(update(users).where(users.c.id.in_(user_ids)).values(**values, updated_at=stamp))
    found = await get_users(uow.conn, user_ids)
    out = [found[i] for i in user_ids if i in found]
    for u in out:
        uow.emit(UserUpdated(topic=user_topic(u.id), user=u))
    return out


async def hard_delete_users(uow: UnitOfWork, found: Sequence[User]) -> None:
    ids = [u.id for u in found]
    if ids:
        await uow.conn.execute(delete(users).where(users.c.id.in_(ids)))
    for u in found:
        uow.emit(UserDeleted(topic=user_topic(u.id), user=u, hard=True))


async def touch_last_active(uow: UnitOfWork, user_id: int) -> None:
    await uow.conn.execute(update(users).where(users.c.id == user_id).values(last_active=now()))


async def query_users(
    conn: Connection,
    conditions: Mapping[str, Any],
    sort: Sequence[tuple[str, int]],
    *,
    limit: int,
    offset: int,
    include_deactivated: bool = False,
) -> list[User]:
    stmt = _user_select.where(users.c.deleted_at.is_(None))
    if not include_deactivated:
        stmt = stmt.where(users.c.deactivated_at.is_(None))
    stmt = stmt.where(filters.compile_filter(conditions, USER_FILTER_FIELDS, custom=users.c.custom))
    stmt = stmt.order_by(*filters.compile_sort(sort, USER_FILTER_FIELDS, custom=users.c.custom), users.c.id)
    rows = (await conn.execute(stmt.limit(limit).offset(offset))).mappings()
    return [_user(r) for r in rows]


def chat_user_filter(column: Any) -> Callable[[str, Any], Any]:
    """A filter field (core.filters) over ``column`` (a user id) given users' chat ids."""

    def clause(op: str, value: Any) -> Any:
        ids = value if isinstance(value, list) else [value]
        if not all(isinstance(i, str) for i in ids):
            raise Invalid("invalid_filter", "user ids must be strings")
        found = select(identities.c.user_id).where(identities.c.kind == CHAT, identities.c.value.in_(ids))
        if op in ("$eq", "$in"):
            return column.in_(found)
        if op in ("$ne", "$nin"):
            return column.not_in(found)
        raise Invalid("invalid_filter", f"a user id field does not support {op}")

    return clause


async def do_ensure_chat_id(uow: UnitOfWork, user_id: int) -> str:
    """The user's chat id, given one now if they have none (a surface that puts its users in chat
    itself, as the experts surface's direct messages do): their user id in digits, which is what chat
    already calls a user without an identity, unless another user holds that chat id; then
    ``member-<user id>``, and if even that is taken ``member-<user id>-<random hex>``. The unique
    (kind, value) of identities makes a clash impossible."""
    mine = select(identities.c.value).where(identities.c.user_id == user_id, identities.c.kind == CHAT)
    for candidate in (str(user_id), f"member-{user_id}", f"member-{user_id}-{secrets.token_hex(4)}"):
        if (found := (await uow.conn.execute(mine)).scalar()) is not None:
            return str(found)
        await uow.conn.execute(insert_ignoring_conflicts(uow.conn, identities).values(
            user_id=user_id, kind=CHAT, value=candidate))
    if (found := (await uow.conn.execute(mine)).scalar()) is None:  # three clashes in a row: practically never
        raise Invalid("chat_id_unavailable", "No chat id could be given to this user; try again.")
    return str(found)
