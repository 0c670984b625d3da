"""Deleting what hangs below a deleted thing (a board's posts, a post's comments, a comment's
replies), so that every author's counts stay right."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select, update

from townhall.core.clock import now
from townhall.core.forum.models import ACTIVE, DELETED
from townhall.core.forum.tables import forum_comments, forum_posts, forum_replies
from townhall.core.forum.users import bump_counts
from townhall.core.uow import UnitOfWork

_COUNTS = {forum_posts.name: "post_count", forum_comments.name: "comment_count", forum_replies.name: "reply_count"}


async def retire(uow: UnitOfWork, table: Table, where: Any) -> None:
    """Mark the rows matching ``where`` deleted; their authors' counts lose the active ones."""
    per_author = (await uow.conn.execute(
        select(table.c.user_id, func.count()).where(where, table.c.status == ACTIVE).group_by(table.c.user_id)
        .order_by(table.c.user_id))).all()  # profiles are updated in one order: no deadlock between two retires
    for user_id, n in per_author:
        await bump_counts(uow, user_id, **{_COUNTS[table.name]: -n})
    await uow.conn.execute(update(table).where(where, table.c.status != DELETED)
                           .values(status=DELETED, last_modified_at=now()))


async def retire_below_comment(uow: UnitOfWork, comment_id: int) -> None:
    await retire(uow, forum_replies, forum_replies.c.comment_id == comment_id)


async def retire_below_post(uow: UnitOfWork, post_id: int) -> None:
    await retire(uow, forum_replies, forum_replies.c.post_id == post_id)
    await retire(uow, forum_comments, forum_comments.c.post_id == post_id)


async def retire_below_board(uow: UnitOfWork, board_id: int) -> None:
    posts_of_board = select(forum_posts.c.id).where(forum_posts.c.board_id == board_id)
    await retire(uow, forum_replies, forum_replies.c.post_id.in_(posts_of_board))
    await retire(uow, forum_comments, forum_comments.c.post_id.in_(posts_of_board))
    await retire(uow, forum_posts, forum_posts.c.board_id == board_id)
