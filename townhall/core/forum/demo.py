"""Demo content for ``townhall demo``: forum boards, posts, comments, replies, reactions and tags
for given (core) users.

Safe to run again: boards and tags are found by name, and a board that already has posts gets
no more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from townhall.core.forum import boards, posts, tags, users
from townhall.core.forum.models import ADMIN, OWNER, ApiUser
from townhall.core.forum.tables import forum_boards, forum_posts, forum_tags
from townhall.core.uow import UnitOfWork

# (name, about, is_private, hidden_type, permission_for, needs_approval)
BOARDS: list[tuple[str, str, bool, int, int, bool]] = [
    ("Announcements", "News from the team.", False, 0, 1, False),
    ("General", "Anything about the community: introductions, questions, ideas.", False, 0, 10, False),
    ("Showcase", "Show what you built. Posts are reviewed before they appear.", False, 1, 10, True),
]
# (board index, headline, HTML content, tags)
POSTS: list[tuple[int, str, str, list[str]]] = [
    (0, "Welcome to the forum", "<p>This is the place for <b>long-form</b> conversations. Be kind!</p>",
     ["Welcome"]),
    (1, "Introduce yourself", "<p>Tell us who you are and what brings you here.</p>", ["Welcome", "Community"]),
    (1, "Favourite tools this year?", "<p>Editors, terminals, note apps: what do you use every day?</p>",
     ["Tools"]),
    (2, "My weekend project", "<p>A tiny synthesiser on a microcontroller. <i>Feedback welcome.</i></p>",
     ["Showcase"]),
]
COMMENTS = ["Great to be here!", "Thanks for starting this.", "Following along."]
REPLIES = ["Agreed!", "Same here."]


@dataclass
class ForumDemo:
    board_ids: list[int] = field(default_factory=list)
    post_ids: list[int] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)


async def seed_demo(uow: UnitOfWork, user_ids: Sequence[int]) -> ForumDemo:
    """Boards (one per visibility kind), a few posts by the given users with comments, replies,
    reactions and tags. The first user becomes a forum admin, who also approves the showcase post."""
    summary = ForumDemo()
    people = list(dict.fromkeys(user_ids))
    if not people:
        return summary
    profiles = [await users.ensure_profile(uow, user_id) for user_id in people]
    # The content is written as an admin API user would: the first user, made an admin.
    acting = ApiUser(key_id=0, user_id=profiles[0].user_id, role_id=ADMIN, system="demo")
    if profiles[0].role_id not in (OWNER, ADMIN):
        # Seeding is the operator's doing: it grants Admin as an owner would.
        operator = ApiUser(key_id=0, user_id=profiles[0].user_id, role_id=OWNER, system="demo")
        await users.do_change_role(uow, operator, profiles[0], ADMIN)

    for name, about, is_private, hidden_type, permission_for, needs_approval in BOARDS:
        board_id = (await uow.conn.execute(select(forum_boards.c.id).where(forum_boards.c.board_name == name))).scalar()
        if board_id is None:
            board_id = (await boards.do_create_board(uow, acting, boards.BoardFields(
                board_name=name, about=about, is_private=is_private, hidden_type=hidden_type,
                permission_for=permission_for, needs_approval=needs_approval))).board_id
        summary.board_ids.append(board_id)

    tag_ids: dict[str, int] = {}
    for _, _, _, names in POSTS:
        for display in names:
            if display in tag_ids:
                continue
            found = (await uow.conn.execute(select(forum_tags.c.id).where(
                forum_tags.c.name == tags.hashtag(display)))).scalar()
            if found is None:
                found = (await tags.do_create_tag(uow, acting, tags.TagFields(name=display))).tag_id
            tag_ids[display] = found
    summary.tag_ids = list(tag_ids.values())

    seeded = {r[0] for r in await uow.conn.execute(select(forum_posts.c.board_id).where(
        forum_posts.c.board_id.in_(summary.board_ids)))}
    for index, (board_index, headline, content, names) in enumerate(POSTS):
        board_id = summary.board_ids[board_index]
        if board_id in seeded:
            continue
        author = profiles[index % len(profiles)] if board_index else profiles[0]
        post = await posts.do_create_post(uow, acting, board_id, headline, content, [author.msid])
        if post.post_status != 15:
            post = await posts.do_review_post(uow, acting, post.post_id, approve=True)
        summary.post_ids.append(post.post_id)
        for display in names:
            await tags.do_map_tag(uow, acting, tag_ids[display], "POST", post.post_id)
        for offset, profile in enumerate(profiles[1:4]):
            await posts.do_react(uow, acting, "POST", post.post_id, 1 + (index + offset) % 3, profile.msid)
        if len(profiles) > 1:
            commenter = profiles[(index + 1) % len(profiles)]
            comment = await posts.do_create_comment(uow, acting, post.post_id, COMMENTS[index % len(COMMENTS)],
                                                    commenter.msid)
            await posts.do_create_reply(uow, acting, comment.comment_id, REPLIES[index % len(REPLIES)], author.msid)
    return summary
