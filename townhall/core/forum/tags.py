"""Tags: a lowercase hashtag ``name`` from the ``display_name`` a user typed; mapped to posts,
comments, replies and users by (ref_type, ref_id)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from townhall.core.clock import now
from townhall.core.errors import Conflict, Invalid, NotFound
from townhall.core.fields import is_digits
from townhall.core.filters import like_escape
from townhall.core.forum import posts, text, users
from townhall.core.forum.models import REF_TYPES, REF_USER, ApiUser, Page, Tag, check_id, split_page
from townhall.core.forum.tables import forum_tag_maps, forum_tags
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")
MAX_NAME = 128
MAX_IDS = 100
MAX_OG_TITLE = 255
MAX_DESCRIPTION = 10_000
DEFAULT_BACK, DEFAULT_TEXT = "#ffffff", "#330000"


def hashtag(display_name: str) -> str:
    """``"Product Manager!"`` → ``"productmanager"``."""
    return re.sub(r"[^\w]", "", display_name.lstrip("#"), flags=re.UNICODE).lower()


def _tag(row: RowMapping) -> Tag:
    return Tag(tag_id=row["id"], name=row["name"], display_name=row["display_name"], description=row["description"],
               image=row["image"], og_image=row["og_image"], og_title=row["og_title"],
               og_description=row["og_description"], back_color=row["back_color"], text_color=row["text_color"])


@dataclass(slots=True)
class TagFields:
    name: str
    description: str | None = None
    image: str | None = None
    og_image: str | None = None
    og_title: str | None = None
    og_description: str | None = None
    back_color: str | None = None
    text_color: str | None = None


def check_tag_fields(f: TagFields) -> tuple[str, str]:
    """The (name, display_name) of a tag; its text fields become plain text (``text.plain``) and its
    lengths are checked once normalised (lowercasing may lengthen a name: "İ" → "i̇")."""
    if not isinstance(f.name, str) or len(f.name) > MAX_NAME * 2:
        raise Invalid("invalid_name", f"name is required: a hashtag of 1-{MAX_NAME} letters, digits or _",
                      field="name")
    display = text.plain(f.name).lstrip("#").strip()
    name = hashtag(display)
    if not name or len(display) > MAX_NAME or len(name) > MAX_NAME:
        raise Invalid("invalid_name", f"name is required: a hashtag of 1-{MAX_NAME} letters, digits or _",
                      field="name")
    for color in ("back_color", "text_color"):
        value = getattr(f, color)
        if value is not None and not _COLOR.match(value):
            raise Invalid(f"invalid_{color}", f"{color} must be a hex color such as #ffffff", field=color)
    for url in ("image", "og_image"):
        setattr(f, url, text.check_http_url(getattr(f, url), url))
    f.og_title = text.check_plain(f.og_title, "og_title", MAX_OG_TITLE)
    for name_ in ("description", "og_description"):
        value = getattr(f, name_)
        if value is not None and isinstance(value, str) and len(value) > MAX_DESCRIPTION * 6:
            raise Invalid(f"invalid_{name_}", f"{name_} is longer than {MAX_DESCRIPTION} characters", field=name_)
        setattr(f, name_, text.check_plain(value, name_, MAX_DESCRIPTION))
    return name, display


async def _check_free(conn: Connection, name: str, but: int | None = None) -> None:
    stmt = select(forum_tags.c.id).where(forum_tags.c.name == name)
    if but is not None:
        stmt = stmt.where(forum_tags.c.id != but)
    if (await conn.execute(stmt)).first() is not None:
        raise Conflict("tag_exists", f'a tag named "{name}" exists', field="name")


async def get_tag(conn: Connection, tag_id: int) -> Tag:
    row = (await conn.execute(select(forum_tags).where(forum_tags.c.id == tag_id))).mappings().first()
    if row is None:
        raise NotFound("tag_not_found", f"tag {tag_id} does not exist")
    return _tag(row)


async def do_create_tag(uow: UnitOfWork, api: ApiUser, f: TagFields) -> Tag:
    users.check_moderator(api, "create tags")
    name, display = check_tag_fields(f)
    await _check_free(uow.conn, name)
    # The name may be taken between the check and the insert (PostgreSQL): then nothing is inserted.
    tag_id = (await uow.conn.execute(insert_ignoring_conflicts(uow.conn, forum_tags).values(
        name=name, display_name=display, description=f.description, image=f.image, og_image=f.og_image,
        og_title=f.og_title, og_description=f.og_description, back_color=f.back_color or DEFAULT_BACK,
        text_color=f.text_color or DEFAULT_TEXT, created_at=now(),
    ).returning(forum_tags.c.id))).scalar()
    if tag_id is None:
        raise Conflict("tag_exists", f'a tag named "{name}" exists', field="name")
    return await get_tag(uow.conn, tag_id)


async def do_edit_tag(uow: UnitOfWork, api: ApiUser, tag_id: int, f: TagFields) -> Tag:
    users.check_moderator(api, "edit tags")
    await get_tag(uow.conn, tag_id)
    name, display = check_tag_fields(f)
    await _check_free(uow.conn, name, but=tag_id)
    try:
        await uow.conn.execute(update(forum_tags).where(forum_tags.c.id == tag_id).values(
            name=name, display_name=display, description=f.description, image=f.image, og_image=f.og_image,
            og_title=f.og_title, og_description=f.og_description, back_color=f.back_color or DEFAULT_BACK,
            text_color=f.text_color or DEFAULT_TEXT))
    except IntegrityError as exc:  # renamed to a name taken meanwhile (the unit of work rolls back)
        raise Conflict("tag_exists", f'a tag named "{name}" exists', field="name") from exc
    return await get_tag(uow.conn, tag_id)


async def list_tags(conn: Connection, *, sort_by: str | None, order: str, ids: list[int] | None,
                    page: Page) -> tuple[list[Tag], bool]:
    if sort_by not in (None, "id", "name"):
        raise Invalid("invalid_sort", "sort_by must be id or name", field="sort_by")
    if order not in ("asc", "desc"):
        raise Invalid("invalid_order", "order must be asc or desc", field="order")
    stmt = select(forum_tags)
    if ids is not None:
        if not ids or len(ids) > MAX_IDS:
            raise Invalid("invalid_ids", f"ids lists 1-{MAX_IDS} tag ids", field="ids")
        stmt = stmt.where(forum_tags.c.id.in_(ids))
    column = forum_tags.c.name if sort_by == "name" else forum_tags.c.id
    stmt = stmt.order_by(column.asc() if order == "asc" else column.desc(), forum_tags.c.id)
    rows = (await conn.execute(stmt.limit(page.size + 1).offset(page.offset))).mappings()
    return split_page([_tag(r) for r in rows], page)


async def search_tags(conn: Connection, q: str, page: Page) -> tuple[list[Tag], bool]:
    needle = hashtag(q)
    if not needle:
        raise Invalid("invalid_query", "q must have letters or digits", field="q")
    pattern = "%" + like_escape(needle) + "%"
    stmt = (select(forum_tags).where(forum_tags.c.name.like(pattern, escape="\\"))
            .order_by(func.length(forum_tags.c.name), forum_tags.c.name).limit(page.size + 1).offset(page.offset))
    return split_page([_tag(r) for r in (await conn.execute(stmt)).mappings()], page)


async def _check_ref(conn: Connection, api: ApiUser, ref_type: Any, ref_id: Any) -> int:
    if ref_type not in REF_TYPES:
        raise Invalid("invalid_ref_type", f"ref_type must be one of {', '.join(REF_TYPES)}", field="ref_type")
    if ref_type == REF_USER:
        if isinstance(ref_id, str) and not is_digits(ref_id):
            return (await users.access_by_msid(conn, ref_id)).user_id
        profile = await users.get_profile(conn, check_id(ref_id, "ref_id"))
        return profile.user_id
    thing = await posts.access_ref(conn, api, ref_type, ref_id)
    return int(getattr(thing, {"POST": "post_id", "COMMENT": "comment_id", "REPLY": "reply_id"}[ref_type]))


async def tags_of(conn: Connection, api: ApiUser, ref_type: Any, ref_id: Any, page: Page) -> tuple[list[Tag], bool]:
    ref = await _check_ref(conn, api, ref_type, ref_id)
    stmt = (select(forum_tags).join(forum_tag_maps, forum_tag_maps.c.tag_id == forum_tags.c.id)
            .where(forum_tag_maps.c.ref_type == ref_type, forum_tag_maps.c.ref_id == ref)
            .order_by(forum_tags.c.name).limit(page.size + 1).offset(page.offset))
    return split_page([_tag(r) for r in (await conn.execute(stmt)).mappings()], page)


async def do_map_tag(uow: UnitOfWork, api: ApiUser, tag_id: Any, ref_type: Any, ref_id: Any) -> Tag:
    """Tag a thing (sending it again changes nothing)."""
    users.check_moderator(api, "tag things")
    tag = await get_tag(uow.conn, check_id(tag_id, "tag_id"))
    ref = await _check_ref(uow.conn, api, ref_type, ref_id)
    # No check-then-insert: two requests tagging the same thing at once both succeed.
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, forum_tag_maps).values(
        tag_id=tag.tag_id, ref_type=ref_type, ref_id=ref, created_at=now()))
    return tag


async def do_unmap_tag(uow: UnitOfWork, api: ApiUser, tag_id: Any, ref_type: Any, ref_id: Any) -> None:
    users.check_moderator(api, "untag things")
    tag = await get_tag(uow.conn, check_id(tag_id, "tag_id"))
    ref = await _check_ref(uow.conn, api, ref_type, ref_id)
    await uow.conn.execute(delete(forum_tag_maps).where(
        forum_tag_maps.c.tag_id == tag.tag_id, forum_tag_maps.c.ref_type == ref_type, forum_tag_maps.c.ref_id == ref))
