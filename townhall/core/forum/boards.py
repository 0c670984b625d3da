"""Boards: visibility (``hidden_type``, ``is_private`` + members), who may post, ordering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, not_, or_, select, true, update
from sqlalchemy.engine import RowMapping

from townhall.core.clock import now
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.forum import text
from townhall.core.forum.models import (
    ACTIVE,
    DELETED,
    HIDDEN_NON_MEMBERS,
    HIDDEN_TYPES,
    PERMISSION_ADMINS,
    PERMISSION_MODERATORS,
    PERMISSIONS_FOR,
    ApiUser,
    Board,
    Page,
    check_id,
    split_page,
)
from townhall.core.forum.retire import retire_below_board
from townhall.core.forum.tables import forum_board_members, forum_boards, forum_posts
from townhall.core.forum.users import check_admin, get_profiles, parse_msid
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

MAX_NAME = 255
MAX_ABOUT = 10_000
BOARD_TYPE = "DISCUSSION"
MAX_POSITION = 1_000_000
MAX_PINS = 50
MAX_BATCH = 1000  # boards reordered, members changed, in one request


def _board(row: RowMapping) -> Board:
    return Board(board_id=row["id"], board_name=row["board_name"], board_type=row["board_type"], about=row["about"],
                 icon=row["icon"], is_private=row["is_private"], hidden_type=row["hidden_type"],
                 permission_for=row["permission_for"], needs_approval=row["needs_approval"],
                 display_order=row["display_order"], pinned_posts=list(row["pinned_posts"] or []),
                 post_count=row["post_count"], last_posted_at=row["last_posted_at"], status=row["status"],
                 created_at=row["created_at"], last_modified_at=row["last_modified_at"])


@dataclass(slots=True)
class BoardFields:
    board_name: str
    is_private: bool
    hidden_type: int
    permission_for: int
    needs_approval: bool
    about: str | None = None
    icon: str | None = None
    pinned_posts: list[int] | None = None


def check_board_fields(f: BoardFields) -> BoardFields:
    if not f.board_name.strip() or len(f.board_name) > MAX_NAME:
        raise Invalid("invalid_board_name", f"board_name is required (1-{MAX_NAME} characters)", field="board_name")
    if f.hidden_type not in HIDDEN_TYPES:
        raise Invalid("invalid_hidden_type", "hidden_type is 0, 1 or 2", field="hidden_type")
    if f.permission_for not in PERMISSIONS_FOR:
        raise Invalid("invalid_permission_for", "permission_for is 1, 5 or 10", field="permission_for")
    if f.about is not None and (not isinstance(f.about, str) or len(f.about) > MAX_ABOUT * 6):
        raise Invalid("invalid_about", f"about is longer than {MAX_ABOUT} characters", field="about")
    f.about = text.check_plain(f.about, "about", MAX_ABOUT)  # plain text (see core/forum/text.py)
    f.icon = text.check_http_url(f.icon, "icon")
    return f


# -- who sees and who posts


async def is_member(conn: Connection, board_id: int, user_id: int) -> bool:
    row = (await conn.execute(select(forum_board_members.c.user_id).where(
        forum_board_members.c.board_id == board_id, forum_board_members.c.user_id == user_id))).first()
    return row is not None


def _visible(api: ApiUser) -> Any:
    """Boards the API user may see listed: hidden_type 2 boards only for their members."""
    alive = forum_boards.c.status != DELETED
    if api.is_admin:
        return alive
    member_of = select(forum_board_members.c.board_id).where(forum_board_members.c.user_id == api.user_id)
    return and_(alive, or_(forum_boards.c.hidden_type != HIDDEN_NON_MEMBERS, forum_boards.c.id.in_(member_of)))


def readable(api: ApiUser) -> Any:
    """Boards whose posts the API user may read. Private boards are for their members only, admins
    included (the seed: "private boards are restricted to users who are part of the board", and
    admins are to be added to them "if they want to have the same experience as a member"); admins
    still see every board listed, to manage it. Hidden (members only) boards are for their members
    and admins."""
    member_of = select(forum_board_members.c.board_id).where(forum_board_members.c.user_id == api.user_id)
    closed = forum_boards.c.is_private == true()
    if not api.is_admin:
        closed = or_(closed, forum_boards.c.hidden_type == HIDDEN_NON_MEMBERS)
    return and_(forum_boards.c.status != DELETED, or_(not_(closed), forum_boards.c.id.in_(member_of)))


async def access_board(conn: Connection, api: ApiUser, board_id: int) -> Board:
    row = (await conn.execute(select(forum_boards).where(forum_boards.c.id == board_id, _visible(api)))).mappings().first()
    if row is None:
        raise NotFound("board_not_found", f"board {board_id} does not exist")
    return _board(row)


async def access_readable_board(conn: Connection, api: ApiUser, board_id: int) -> Board:
    """A board whose posts the API user may read (see ``readable``): 403 for a private board they
    are not a member of, whatever their role."""
    board = await access_board(conn, api, board_id)
    if board.is_private and not await is_member(conn, board.board_id, api.user_id):
        raise Forbidden("private_board", f"board {board_id} is private to its members")
    return board


async def check_can_post(conn: Connection, api: ApiUser, board_id: Any) -> Board:
    """The board the API user may post in (its role against ``permission_for``, its membership)."""
    board = await access_readable_board(conn, api, check_id(board_id, "board_id"))
    if board.permission_for == PERMISSION_ADMINS and not api.is_admin:
        raise Forbidden("cannot_post", f"only admins can post in board {board_id}")
    if board.permission_for == PERMISSION_MODERATORS and not api.is_moderator:
        raise Forbidden("cannot_post", f"only admins and moderators can post in board {board_id}")
    return board


# -- reading


async def get_board(conn: Connection, board_id: int) -> Board:
    row = (await conn.execute(select(forum_boards).where(forum_boards.c.id == board_id))).mappings().first()
    if row is None:
        raise NotFound("board_not_found", f"board {board_id} does not exist")
    return _board(row)


async def list_boards(conn: Connection, api: ApiUser, page: Page) -> tuple[list[Board], bool]:
    stmt = (select(forum_boards).where(_visible(api)).order_by(forum_boards.c.display_order, forum_boards.c.id)
            .limit(page.size + 1).offset(page.offset))
    return split_page([_board(r) for r in (await conn.execute(stmt)).mappings()], page)


# -- writing


def _some(ids: list[Any], shown: int = 5) -> str:
    """A few of ``ids`` for an error message (never all of a huge list)."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(map(str, ids[:shown])) + more


async def _check_pins(conn: Connection, board_id: int | None, pins: list[int] | None) -> list[int]:
    if not pins:
        return []
    if len(pins) > MAX_PINS:
        raise Invalid("invalid_pinned_posts", f"a board pins at most {MAX_PINS} posts", field="pinned_posts")
    pins = [check_id(p, "pinned_posts") for p in dict.fromkeys(pins)]
    if board_id is None:
        raise Invalid("invalid_pinned_posts", "a new board has no posts to pin", field="pinned_posts")
    found = {r[0] for r in await conn.execute(select(forum_posts.c.id).where(
        forum_posts.c.id.in_(pins), forum_posts.c.board_id == board_id, forum_posts.c.status != DELETED))}
    missing = [p for p in pins if p not in found]
    if missing:
        raise Invalid("invalid_pinned_posts", f"not posts of this board: {_some(missing)}", field="pinned_posts")
    return pins


async def do_create_board(uow: UnitOfWork, api: ApiUser, f: BoardFields) -> Board:
    check_admin(api, "create boards")
    check_board_fields(f)
    await _check_pins(uow.conn, None, f.pinned_posts)
    stamp = now()
    last = (await uow.conn.execute(select(func.max(forum_boards.c.display_order)))).scalar_one()
    board_id = (await uow.conn.execute(insert(forum_boards).values(
        board_name=f.board_name, board_type=BOARD_TYPE, about=f.about, icon=f.icon, is_private=f.is_private,
        hidden_type=f.hidden_type, permission_for=f.permission_for, needs_approval=f.needs_approval,
        display_order=(last or 0) + 1, pinned_posts=[], post_count=0, status=ACTIVE, created_at=stamp,
        last_modified_at=stamp,
    ).returning(forum_boards.c.id))).scalar_one()
    return await get_board(uow.conn, board_id)


async def do_edit_board(uow: UnitOfWork, api: ApiUser, board_id: int, f: BoardFields) -> Board:
    check_admin(api, "edit boards")
    await access_board(uow.conn, api, board_id)
    check_board_fields(f)
    values: dict[str, Any] = dict(
        board_name=f.board_name, about=f.about, icon=f.icon, is_private=f.is_private, hidden_type=f.hidden_type,
        permission_for=f.permission_for, needs_approval=f.needs_approval, last_modified_at=now())
    if f.pinned_posts is not None:
        values["pinned_posts"] = await _check_pins(uow.conn, board_id, f.pinned_posts)
    await uow.conn.execute(update(forum_boards).where(forum_boards.c.id == board_id).values(**values))
    return await get_board(uow.conn, board_id)


async def do_delete_board(uow: UnitOfWork, api: ApiUser, board_id: int) -> None:
    check_admin(api, "delete boards")
    await access_board(uow.conn, api, board_id)
    await uow.conn.execute(update(forum_boards).where(forum_boards.c.id == board_id)
                           .values(status=DELETED, post_count=0, last_modified_at=now()))
    await retire_below_board(uow, board_id)


async def do_reorder(uow: UnitOfWork, api: ApiUser, order: Mapping[int, int]) -> None:
    check_admin(api, "reorder boards")
    if not order or len(order) > MAX_BATCH:
        raise Invalid("invalid_display_order", f"display_order maps 1-{MAX_BATCH} board ids to positions",
                      field="display_order")
    if any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= MAX_POSITION for p in order.values()):
        raise Invalid("invalid_display_order", f"display positions are 1-{MAX_POSITION}", field="display_order")
    order = {check_id(board_id, "display_order"): position for board_id, position in order.items()}
    found = {r[0] for r in await uow.conn.execute(select(forum_boards.c.id).where(
        forum_boards.c.id.in_(list(order)), forum_boards.c.status != DELETED))}
    missing = [b for b in order if b not in found]
    if missing:
        raise NotFound("board_not_found", f"no such board(s): {_some(missing)}")
    # One statement, whatever the number of boards.
    await uow.conn.execute(update(forum_boards).where(forum_boards.c.id.in_(list(order))).values(
        display_order=case(order, value=forum_boards.c.id), last_modified_at=now()))


async def do_change_members(uow: UnitOfWork, api: ApiUser, board_id: int, changes: Mapping[str, bool]) -> None:
    check_admin(api, "change board members")
    await access_board(uow.conn, api, board_id)
    if not changes or len(changes) > MAX_BATCH:
        raise Invalid("invalid_member_changes", f"member_changes maps 1-{MAX_BATCH} user msids to true/false",
                      field="member_changes")
    wanted: dict[str, tuple[int, str]] = {}
    unknown: list[str] = []
    for msid in changes:
        try:
            wanted[msid] = parse_msid(msid) if isinstance(msid, str) else parse_msid("")
        except NotFound:
            unknown.append(msid)
    # All of them in one query (a profile per msid would be one query per entry).
    profiles = await get_profiles(uow.conn, [user_id for user_id, _ in wanted.values()])
    for msid, (user_id, sid) in wanted.items():
        if user_id not in profiles or profiles[user_id].sid != sid:
            unknown.append(msid)
    if unknown:
        raise Invalid("unknown_user", f"member_changes: no such user(s): {_some(unknown)}", field="member_changes")
    adds = sorted({wanted[m][0] for m, add in changes.items() if add})
    removes = sorted({wanted[m][0] for m, add in changes.items() if not add} - set(adds))
    if removes:
        await uow.conn.execute(delete(forum_board_members).where(
            forum_board_members.c.board_id == board_id, forum_board_members.c.user_id.in_(removes)))
    if adds:
        # Adding a member twice at once (two requests) is no error: the second insert does nothing.
        stamp = now()
        await uow.conn.execute(insert_ignoring_conflicts(uow.conn, forum_board_members),
                               [{"board_id": board_id, "user_id": u, "created_at": stamp} for u in adds])


async def bump_post_count(uow: UnitOfWork, board_id: int, delta: int, *, posted: bool = False) -> None:
    values: dict[str, Any] = {"post_count": forum_boards.c.post_count + delta}
    if posted:
        values["last_posted_at"] = now()
    await uow.conn.execute(update(forum_boards).where(forum_boards.c.id == board_id).values(**values))
