"""Posts, comments and replies: sanitised content, statuses, approval, counts, reactions, search.

Every count (a board's post_count, a post's comment/reply/react counts, a user's counts) changes
in the transaction of the change that causes it, with atomic ``x = x + n`` updates.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, literal_column, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import RowMapping

from townhall.core.clock import now
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.fields import is_digits
from townhall.core.forum import boards, retire, text, users
from townhall.core.forum.events import (
    CommentCreated,
    CommentUpdated,
    PostApproved,
    PostCreated,
    PostUpdated,
    ReplyCreated,
    ReplyUpdated,
)
from townhall.core.forum.models import (
    ACTIVE,
    APPROVAL_REJECTED,
    APPROVAL_REQUIRED,
    DELETED,
    PERMISSION_ADMINS,
    PERMISSION_MODERATORS,
    REF_COMMENT,
    REF_POST,
    REF_REPLY,
    STATE_DEFAULT,
    STATUSES,
    ApiUser,
    Comment,
    Page,
    Post,
    Profile,
    Reply,
    check_id,
    split_page,
)
from townhall.core.forum.tables import forum_boards, forum_comments, forum_posts, forum_reactions, forum_replies
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

MAX_HEADLINE = 512
MAX_CONTENT = 200_000
MAX_QUERY = 200
TABLES: dict[str, Table] = {REF_POST: forum_posts, REF_COMMENT: forum_comments, REF_REPLY: forum_replies}


def _check_content(content: Any) -> tuple[str, str]:
    if not isinstance(content, str) or not content.strip():
        raise Invalid("invalid_content", "content is required", field="content")
    if len(content) > MAX_CONTENT:
        raise Invalid("invalid_content", f"content is longer than {MAX_CONTENT} characters", field="content")
    safe = text.sanitize(content)
    plain = text.clean_text(safe)
    if not plain and "<img" not in safe:
        raise Invalid("invalid_content", "content has no text once sanitised", field="content")
    return safe, plain


def _check_headline(headline: Any) -> str:
    """Plain text (``text.plain``): markup removed, ``&<>`` escaped; its length checked once cleaned."""
    if not isinstance(headline, str) or len(headline) > MAX_HEADLINE * 6:
        raise Invalid("invalid_headline", f"headline is required (1-{MAX_HEADLINE} characters)", field="headline")
    cleaned = text.check_plain(headline, "headline", MAX_HEADLINE, required=True)
    assert cleaned is not None
    return cleaned


def _reactions(raw: Any) -> dict[str, int]:
    return {k: v for k, v in sorted((raw or {}).items()) if v}


async def _authors(conn: Connection, rows: list[RowMapping]) -> dict[int, Profile]:
    return await users.get_profiles(conn, [r["user_id"] for r in rows])


def _post(row: RowMapping, author: Profile) -> Post:
    return Post(post_id=row["id"], board_id=row["board_id"], headline=row["headline"], content=row["content"],
                clean_text=row["clean_text"], post_short_text=row["post_short_text"], post_status=row["status"],
                comment_count=row["comment_count"], reply_count=row["reply_count"], react_count=row["react_count"],
                reactions=_reactions(row["reactions"]), view_count=row["view_count"], created_at=row["created_at"],
                last_modified_at=row["last_modified_at"], last_edited_at=row["last_edited_at"], author=author,
                created_by_key=row["created_by_key"])


def _comment(row: RowMapping, author: Profile) -> Comment:
    return Comment(comment_id=row["id"], post_id=row["post_id"], content=row["content"], clean_text=row["clean_text"],
                   comment_status=row["status"], state=row["state"], reply_count=row["reply_count"],
                   react_count=row["react_count"], reactions=_reactions(row["reactions"]),
                   created_at=row["created_at"], last_modified_at=row["last_modified_at"],
                   last_edited_at=row["last_edited_at"], author=author, created_by_key=row["created_by_key"])


def _reply(row: RowMapping, author: Profile) -> Reply:
    return Reply(reply_id=row["id"], comment_id=row["comment_id"], post_id=row["post_id"], content=row["content"],
                 clean_text=row["clean_text"], status=row["status"], state=row["state"],
                 react_count=row["react_count"], reactions=_reactions(row["reactions"]),
                 created_at=row["created_at"], last_modified_at=row["last_modified_at"],
                 last_edited_at=row["last_edited_at"], author=author, created_by_key=row["created_by_key"])


async def _posts(conn: Connection, stmt: Any) -> list[Post]:
    rows = list((await conn.execute(stmt)).mappings())
    authors = await _authors(conn, rows)
    return [_post(r, authors[r["user_id"]]) for r in rows]


async def _lock(conn: Connection, table: Table, row_id: int) -> RowMapping | None:
    """The row, locked until the end of the transaction on PostgreSQL (SQLite has one writer).

    Lock order, everywhere: the post first, then its comment, then the reply. A comment or reply
    is locked only once its post is (a reply being written while its post is deleted would
    otherwise deadlock: one holding the comment and wanting the post, the other the reverse)."""
    if table is not forum_posts:
        post_id = (await conn.execute(select(table.c.post_id).where(table.c.id == row_id))).scalar()
        if post_id is not None:
            await conn.execute(select(forum_posts.c.id).where(forum_posts.c.id == post_id).with_for_update())
        if table is forum_replies:
            comment_id = (await conn.execute(select(table.c.comment_id).where(table.c.id == row_id))).scalar()
            if comment_id is not None:
                await conn.execute(select(forum_comments.c.id).where(forum_comments.c.id == comment_id)
                                   .with_for_update())
    return (await conn.execute(select(table).where(table.c.id == row_id).with_for_update())).mappings().first()


# -- posts


async def access_post(conn: Connection, api: ApiUser, post_id: int, *, lock: bool = False) -> Post:
    """A post the API user may read: its board readable; only moderators see posts not active."""
    row = (await _lock(conn, forum_posts, post_id) if lock else
           (await conn.execute(select(forum_posts).where(forum_posts.c.id == post_id))).mappings().first())
    if row is None or row["status"] == DELETED:
        raise NotFound("post_not_found", f"post {post_id} does not exist")
    if row["status"] != ACTIVE and not api.is_moderator and row["user_id"] != api.user_id:
        raise NotFound("post_not_found", f"post {post_id} does not exist")
    await boards.access_readable_board(conn, api, row["board_id"])
    return _post(row, await users.get_profile(conn, row["user_id"]))


async def get_post(conn: Connection, post_id: int) -> Post:
    (found,) = await _posts(conn, select(forum_posts).where(forum_posts.c.id == post_id)) or [None]
    if found is None:
        raise NotFound("post_not_found", f"post {post_id} does not exist")
    return found


async def do_view_post(uow: UnitOfWork, api: ApiUser, post_id: int) -> Post:
    """Read a post, counting the view."""
    post = await access_post(uow.conn, api, post_id)
    await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == post_id)
                           .values(view_count=forum_posts.c.view_count + 1))
    return post.model_copy(update={"view_count": post.view_count + 1})


async def do_create_post(uow: UnitOfWork, api: ApiUser, board_id: Any, headline: Any, content: Any,
                         authors: Any) -> Post:
    board = await boards.check_can_post(uow.conn, api, board_id)
    headline = _check_headline(headline)
    safe, plain = _check_content(content)
    author = await users.access_authors(uow.conn, authors, field_name="authors")
    status = APPROVAL_REQUIRED if board.needs_approval else ACTIVE
    stamp = now()
    post_id = (await uow.conn.execute(insert(forum_posts).values(
        board_id=board.board_id, user_id=author.user_id, headline=headline, content=safe, clean_text=plain,
        post_short_text=text.short_text(plain), status=status, comment_count=0, reply_count=0, react_count=0,
        reactions={}, view_count=0, created_at=stamp, last_modified_at=stamp, created_by_key=_key_of(api),
    ).returning(forum_posts.c.id))).scalar_one()
    if status == ACTIVE:
        await _count_post(uow, board.board_id, author.user_id, +1)
    post = await get_post(uow.conn, post_id)
    uow.emit(PostCreated(post=post))
    return post


async def _count_post(uow: UnitOfWork, board_id: int, user_id: int, delta: int) -> None:
    await boards.bump_post_count(uow, board_id, delta, posted=delta > 0)
    await users.bump_counts(uow, user_id, post_count=delta)


def _key_of(api: ApiUser) -> int | None:
    return api.key_id if api.key_id > 0 else None  # 0: the core acting by itself (demo data)


def _check_editor(api: ApiUser, thing: Post | Comment | Reply, what: str) -> None:
    """THE rule for editing and deleting a post, comment or reply: a moderator (or above), the API
    user that is its author, or the API key that wrote it (a key writing for the users of its
    system); any other member key is refused, whoever it names as author."""
    if api.is_moderator or thing.author.user_id == api.user_id:
        return
    if thing.created_by_key is not None and thing.created_by_key == api.key_id:
        return
    raise Forbidden("not_author", f"only moderators, the author or the API key that wrote them may change {what}")


async def do_edit_post(uow: UnitOfWork, api: ApiUser, post_id: int, board_id: Any, headline: Any, content: Any,
                       authors: Any) -> Post:
    post = await access_post(uow.conn, api, post_id, lock=True)
    _check_editor(api, post, "posts")
    board = await boards.check_can_post(uow.conn, api, board_id)
    headline = _check_headline(headline)
    safe, plain = _check_content(content)
    author = await users.access_authors(uow.conn, authors, field_name="authors")
    if author.user_id != post.author.user_id and not api.is_moderator:
        raise Forbidden("cannot_reassign", "only moderators may give a post another author")
    status = post.post_status
    if status == ACTIVE and board.board_id != post.board_id and board.needs_approval and not api.is_moderator:
        status = APPROVAL_REQUIRED  # moved into a board needing approval: it waits for a moderator again
    if post.post_status == ACTIVE and (status != ACTIVE or board.board_id != post.board_id
                                       or author.user_id != post.author.user_id):
        await _count_post(uow, post.board_id, post.author.user_id, -1)
        if status == ACTIVE:
            await _count_post(uow, board.board_id, author.user_id, +1)
    stamp = now()
    await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == post_id).values(
        board_id=board.board_id, user_id=author.user_id, headline=headline, content=safe, clean_text=plain,
        post_short_text=text.short_text(plain), status=status, last_modified_at=stamp, last_edited_at=stamp))
    fresh = await get_post(uow.conn, post_id)
    uow.emit(PostUpdated(post=fresh))
    return fresh


async def do_delete_post(uow: UnitOfWork, api: ApiUser, post_id: int) -> None:
    post = await access_post(uow.conn, api, post_id, lock=True)
    _check_editor(api, post, "posts")
    if post.post_status == ACTIVE:
        await _count_post(uow, post.board_id, post.author.user_id, -1)
    await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == post_id)
                           .values(status=DELETED, last_modified_at=now()))
    await retire.retire_below_post(uow, post_id)


async def do_review_post(uow: UnitOfWork, api: ApiUser, post_id: int, *, approve: bool) -> Post:
    """Approve (status 15) or reject (status 3) a post waiting for approval (status 4)."""
    users.check_moderator(api, "approve or reject posts")
    post = await access_post(uow.conn, api, post_id, lock=True)
    if post.post_status != APPROVAL_REQUIRED:
        raise Conflict("not_pending", f"post {post_id} is not waiting for approval (status {post.post_status})")
    await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == post_id).values(
        status=ACTIVE if approve else APPROVAL_REJECTED, last_modified_at=now()))
    if approve:
        await _count_post(uow, post.board_id, post.author.user_id, +1)
    fresh = await get_post(uow.conn, post_id)
    if approve:
        uow.emit(PostApproved(post=fresh))
    return fresh


def _status_filter(api: ApiUser, status: int | None) -> Any:
    if status is None:
        return forum_posts.c.status == ACTIVE
    if status not in STATUSES or status == DELETED:
        raise Invalid("invalid_status", "status must be an entity status other than -100", field="status")
    if status != ACTIVE and not api.is_moderator:
        raise Forbidden("not_moderator", "only moderators may list posts that are not active")
    return forum_posts.c.status == status


async def list_board_posts(conn: Connection, api: ApiUser, board_id: int, status: int | None,
                           page: Page) -> tuple[list[Post], bool]:
    await boards.access_readable_board(conn, api, board_id)
    stmt = (select(forum_posts).where(forum_posts.c.board_id == board_id, _status_filter(api, status))
            .order_by(forum_posts.c.id.desc()).limit(page.size + 1).offset(page.offset))
    return split_page(await _posts(conn, stmt), page)


# The expression of the GIN index of migration 0006 (PostgreSQL), word for word: the planner uses
# the index only for this very expression.
POSTS_TSVECTOR = "to_tsvector('simple'::regconfig, headline || ' ' || clean_text)"
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 10


def _fulltext(conn: Connection, words: list[str]) -> tuple[Any, Any]:
    """(the condition, the ranking) of a search on the database's own full-text engine: SQLite
    FTS5 (``forum_posts_fts``, kept by triggers), PostgreSQL tsvector (GIN expression index)."""
    if conn.dialect.name == "sqlite":
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        hits = sql_text("SELECT rowid FROM forum_posts_fts WHERE forum_posts_fts MATCH :q"
                        ).bindparams(q=match).columns(literal_column("rowid"))
        return forum_posts.c.id.in_(hits), forum_posts.c.id.desc()
    document = literal_column(POSTS_TSVECTOR)
    query = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
    return document.op("@@")(query), func.ts_rank(document, query).desc()


async def search_posts(conn: Connection, api: ApiUser, q: str, page: Page) -> tuple[list[Post], bool]:
    """Full-text search of active posts in the boards the API user may read (every word must match)."""
    words = _WORD.findall(q)[:MAX_TERMS]
    if not words or len(q) > MAX_QUERY:
        raise Invalid("invalid_query", f"q is required (1-{MAX_QUERY} characters, with a word)", field="q")
    readable = select(forum_boards.c.id).where(boards.readable(api))
    condition, rank = _fulltext(conn, words)
    stmt = (select(forum_posts).where(forum_posts.c.status == ACTIVE, forum_posts.c.board_id.in_(readable), condition)
            .order_by(rank, forum_posts.c.id.desc()))
    return split_page(await _posts(conn, stmt.limit(page.size + 1).offset(page.offset)), page)


# -- comments


async def access_comment(conn: Connection, api: ApiUser, comment_id: int, *, lock: bool = False) -> Comment:
    row = (await _lock(conn, forum_comments, comment_id) if lock else
           (await conn.execute(select(forum_comments).where(forum_comments.c.id == comment_id))).mappings().first())
    if row is None or row["status"] == DELETED:
        raise NotFound("comment_not_found", f"comment {comment_id} does not exist")
    try:
        await access_post(conn, api, row["post_id"])
    except NotFound as exc:
        raise NotFound("comment_not_found", f"comment {comment_id} does not exist") from exc
    return _comment(row, await users.get_profile(conn, row["user_id"]))


async def get_comment(conn: Connection, comment_id: int) -> Comment:
    row = (await conn.execute(select(forum_comments).where(forum_comments.c.id == comment_id))).mappings().first()
    if row is None:
        raise NotFound("comment_not_found", f"comment {comment_id} does not exist")
    return _comment(row, await users.get_profile(conn, row["user_id"]))


async def _check_can_discuss(conn: Connection, api: ApiUser, post: Post) -> None:
    if post.post_status != ACTIVE:
        raise Forbidden("post_not_active", f"post {post.post_id} is not open for comments (status {post.post_status})")
    board = await boards.access_readable_board(conn, api, post.board_id)
    if board.permission_for == PERMISSION_ADMINS and not api.is_admin:
        raise Forbidden("cannot_comment", f"only admins can write in board {board.board_id}")
    if board.permission_for == PERMISSION_MODERATORS and not api.is_moderator:
        raise Forbidden("cannot_comment", f"only admins and moderators can write in board {board.board_id}")


async def do_create_comment(uow: UnitOfWork, api: ApiUser, post_id: Any, content: Any, author: Any) -> Comment:
    post = await access_post(uow.conn, api, check_id(post_id, "post_id"), lock=True)
    await _check_can_discuss(uow.conn, api, post)
    safe, plain = _check_content(content)
    writer = await users.access_authors(uow.conn, author, field_name="author")
    stamp = now()
    comment_id = (await uow.conn.execute(insert(forum_comments).values(
        post_id=post.post_id, user_id=writer.user_id, content=safe, clean_text=plain, status=ACTIVE,
        state=STATE_DEFAULT, reply_count=0, react_count=0, reactions={}, created_at=stamp, last_modified_at=stamp,
        created_by_key=_key_of(api),
    ).returning(forum_comments.c.id))).scalar_one()
    await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == post.post_id)
                           .values(comment_count=forum_posts.c.comment_count + 1))
    await users.bump_counts(uow, writer.user_id, comment_count=+1)
    comment = await get_comment(uow.conn, comment_id)
    uow.emit(CommentCreated(comment=comment))
    return comment


async def _set_content(uow: UnitOfWork, table: Any, row_id: int, content: Any) -> None:
    """A comment's or reply's new content (sanitised) and its plain text, stamped as edited."""
    safe, plain = _check_content(content)
    stamp = now()
    await uow.conn.execute(update(table).where(table.c.id == row_id).values(
        content=safe, clean_text=plain, last_modified_at=stamp, last_edited_at=stamp))


async def do_edit_comment(uow: UnitOfWork, api: ApiUser, comment_id: int, content: Any) -> Comment:
    comment = await access_comment(uow.conn, api, comment_id, lock=True)
    _check_editor(api, comment, "comments")
    await _set_content(uow, forum_comments, comment_id, content)
    fresh = await get_comment(uow.conn, comment_id)
    uow.emit(CommentUpdated(comment=fresh))
    return fresh


async def do_delete_comment(uow: UnitOfWork, api: ApiUser, comment_id: int) -> None:
    comment = await access_comment(uow.conn, api, comment_id, lock=True)
    _check_editor(api, comment, "comments")
    await uow.conn.execute(update(forum_comments).where(forum_comments.c.id == comment_id)
                           .values(status=DELETED, last_modified_at=now()))
    if comment.comment_status == ACTIVE:
        # Its replies go with it: they no longer count on the post, nor for their authors.
        await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == comment.post_id).values(
            comment_count=forum_posts.c.comment_count - 1,
            reply_count=forum_posts.c.reply_count - comment.reply_count))
        await users.bump_counts(uow, comment.author.user_id, comment_count=-1)
    await retire.retire_below_comment(uow, comment_id)


async def list_comments(conn: Connection, api: ApiUser, post_id: int, page: Page) -> tuple[list[Comment], bool]:
    await access_post(conn, api, post_id)
    rows = list((await conn.execute(
        select(forum_comments).where(forum_comments.c.post_id == post_id, forum_comments.c.status == ACTIVE)
        .order_by(forum_comments.c.id).limit(page.size + 1).offset(page.offset))).mappings())
    authors = await _authors(conn, rows)
    return split_page([_comment(r, authors[r["user_id"]]) for r in rows], page)


# -- replies


async def access_reply(conn: Connection, api: ApiUser, reply_id: int, *, lock: bool = False) -> Reply:
    row = (await _lock(conn, forum_replies, reply_id) if lock else
           (await conn.execute(select(forum_replies).where(forum_replies.c.id == reply_id))).mappings().first())
    if row is None or row["status"] == DELETED:
        raise NotFound("reply_not_found", f"reply {reply_id} does not exist")
    try:
        await access_comment(conn, api, row["comment_id"])
    except NotFound as exc:
        raise NotFound("reply_not_found", f"reply {reply_id} does not exist") from exc
    return _reply(row, await users.get_profile(conn, row["user_id"]))


async def get_reply(conn: Connection, reply_id: int) -> Reply:
    row = (await conn.execute(select(forum_replies).where(forum_replies.c.id == reply_id))).mappings().first()
    if row is None:
        raise NotFound("reply_not_found", f"reply {reply_id} does not exist")
    return _reply(row, await users.get_profile(conn, row["user_id"]))


async def do_create_reply(uow: UnitOfWork, api: ApiUser, comment_id: Any, content: Any, author: Any) -> Reply:
    comment = await access_comment(uow.conn, api, check_id(comment_id, "comment_id"), lock=True)
    post = await access_post(uow.conn, api, comment.post_id)
    await _check_can_discuss(uow.conn, api, post)
    safe, plain = _check_content(content)
    writer = await users.access_authors(uow.conn, author, field_name="author")
    stamp = now()
    reply_id = (await uow.conn.execute(insert(forum_replies).values(
        comment_id=comment.comment_id, post_id=comment.post_id, user_id=writer.user_id, content=safe,
        clean_text=plain, status=ACTIVE, state=STATE_DEFAULT, react_count=0, reactions={}, created_at=stamp,
        last_modified_at=stamp, created_by_key=_key_of(api),
    ).returning(forum_replies.c.id))).scalar_one()
    await uow.conn.execute(update(forum_comments).where(forum_comments.c.id == comment.comment_id)
                           .values(reply_count=forum_comments.c.reply_count + 1))
    await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == comment.post_id)
                           .values(reply_count=forum_posts.c.reply_count + 1))
    await users.bump_counts(uow, writer.user_id, reply_count=+1)
    reply = await get_reply(uow.conn, reply_id)
    uow.emit(ReplyCreated(reply=reply))
    return reply


async def do_edit_reply(uow: UnitOfWork, api: ApiUser, reply_id: int, content: Any) -> Reply:
    reply = await access_reply(uow.conn, api, reply_id, lock=True)
    _check_editor(api, reply, "replies")
    await _set_content(uow, forum_replies, reply_id, content)
    fresh = await get_reply(uow.conn, reply_id)
    uow.emit(ReplyUpdated(reply=fresh))
    return fresh


async def do_delete_reply(uow: UnitOfWork, api: ApiUser, reply_id: int) -> None:
    reply = await access_reply(uow.conn, api, reply_id, lock=True)
    _check_editor(api, reply, "replies")
    await uow.conn.execute(update(forum_replies).where(forum_replies.c.id == reply_id)
                           .values(status=DELETED, last_modified_at=now()))
    if reply.status == ACTIVE:
        await uow.conn.execute(update(forum_comments).where(forum_comments.c.id == reply.comment_id)
                               .values(reply_count=forum_comments.c.reply_count - 1))
        await uow.conn.execute(update(forum_posts).where(forum_posts.c.id == reply.post_id)
                               .values(reply_count=forum_posts.c.reply_count - 1))
        await users.bump_counts(uow, reply.author.user_id, reply_count=-1)


async def list_replies(conn: Connection, api: ApiUser, comment_id: int, page: Page) -> tuple[list[Reply], bool]:
    await access_comment(conn, api, comment_id)
    rows = list((await conn.execute(
        select(forum_replies).where(forum_replies.c.comment_id == comment_id, forum_replies.c.status == ACTIVE)
        .order_by(forum_replies.c.id).limit(page.size + 1).offset(page.offset))).mappings())
    authors = await _authors(conn, rows)
    return split_page([_reply(r, authors[r["user_id"]]) for r in rows], page)


# -- reactions


def check_slot(slot: Any, slots: int) -> int:
    """A reaction slot: ``"s2"`` or ``2``, between 1 and the number of configured slots."""
    if isinstance(slot, str) and slot[:1] in ("s", "S") and is_digits(slot[1:]):
        slot = int(slot[1:])
    if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= slots:
        raise Invalid("invalid_slot", f"slot must be s1..s{slots}", field="slot")
    return slot


async def access_ref(conn: Connection, api: ApiUser, ref_type: Any, ref_id: Any, *, lock: bool = False) -> Any:
    """The post, comment or reply named by (ref_type, ref_id), readable by the API user."""
    ref_id = check_id(ref_id, "ref_id")
    if ref_type == REF_POST:
        return await access_post(conn, api, ref_id, lock=lock)
    if ref_type == REF_COMMENT:
        return await access_comment(conn, api, ref_id, lock=lock)
    if ref_type == REF_REPLY:
        return await access_reply(conn, api, ref_id, lock=lock)
    raise Invalid("invalid_ref_type", "ref_type must be POST, COMMENT or REPLY", field="ref_type")


async def _recount(uow: UnitOfWork, ref_type: str, ref_id: int) -> None:
    counts = {f"s{slot}": n for slot, n in await uow.conn.execute(
        select(forum_reactions.c.slot, func.count()).where(
            forum_reactions.c.ref_type == ref_type, forum_reactions.c.ref_id == ref_id)
        .group_by(forum_reactions.c.slot))}
    table = TABLES[ref_type]
    await uow.conn.execute(update(table).where(table.c.id == ref_id)
                           .values(reactions=counts, react_count=sum(counts.values())))


async def do_react(uow: UnitOfWork, api: ApiUser, ref_type: Any, ref_id: Any, slot: int, user: Any) -> Any:
    """The user's reaction on the thing becomes ``slot`` (one per user; sending it again changes nothing)."""
    thing = await access_ref(uow.conn, api, ref_type, ref_id, lock=True)
    reactor = await users.access_authors(uow.conn, user, field_name="user")
    where = and_(forum_reactions.c.ref_type == ref_type, forum_reactions.c.ref_id == int(ref_id),
                 forum_reactions.c.user_id == reactor.user_id)
    current = (await uow.conn.execute(select(forum_reactions.c.slot).where(where))).first()
    if current is None:
        await uow.conn.execute(insert(forum_reactions).values(ref_type=ref_type, ref_id=int(ref_id),
                                                              user_id=reactor.user_id, slot=slot, created_at=now()))
    elif current[0] != slot:
        await uow.conn.execute(update(forum_reactions).where(where).values(slot=slot))
    else:
        return thing
    await _recount(uow, ref_type, int(ref_id))
    return await access_ref(uow.conn, api, ref_type, ref_id)


async def do_unreact(uow: UnitOfWork, api: ApiUser, ref_type: Any, ref_id: Any, user: Any) -> Any:
    await access_ref(uow.conn, api, ref_type, ref_id, lock=True)
    reactor = await users.access_authors(uow.conn, user, field_name="user")
    await uow.conn.execute(delete(forum_reactions).where(
        forum_reactions.c.ref_type == ref_type, forum_reactions.c.ref_id == int(ref_id),
        forum_reactions.c.user_id == reactor.user_id))
    await _recount(uow, ref_type, int(ref_id))
    return await access_ref(uow.conn, api, ref_type, ref_id)
