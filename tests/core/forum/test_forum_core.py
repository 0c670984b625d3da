"""The forum core: sanitised text, hashtags, demo content, and counts that match the rows."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql_text

from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.errors import Forbidden, Invalid
from townhall.core.events import Event
from townhall.core.forum import boards, demo, posts, text, users
from townhall.core.forum.events import PostCreated
from townhall.core.forum.models import ADMIN, MEMBER, ApiUser, Page
from townhall.core.forum.tables import forum_comments, forum_posts, forum_reactions, forum_replies
from townhall.core.forum.tags import hashtag
from townhall.jobs import webhooks
from townhall.jobs.tables import outbox


def test_content_is_sanitised_and_its_plain_text_derived() -> None:
    safe = text.sanitize('<div><p style="x" onmouseover="y">Hi <a href="javascript:alert(1)">there</a></p>'
                         "<script>alert(2)</script><iframe src='http://evil'></iframe><br>next</div>")
    assert "script" not in safe and "onmouseover" not in safe and "javascript" not in safe and "iframe" not in safe
    assert text.clean_text(safe) == "Hi there next"
    assert text.clean_text("<p>a &amp; b &lt;c&gt;</p>") == "a &amp; b &lt;c&gt;"  # plain text, HTML-safe
    long = "word " * 100
    short = text.short_text(long.strip())
    assert len(short) <= text.SHORT_TEXT_LENGTH and short.endswith("word")


def test_escaped_markup_in_content_never_becomes_live_markup_in_its_plain_text() -> None:
    safe = text.sanitize("<p>&lt;img src=x onerror=alert(1)&gt; &amp;lt;b&amp;gt;</p>")
    plain = text.clean_text(safe)
    assert "<" not in plain and ">" not in plain and plain.startswith("&lt;img")
    long = text.clean_text("<p>" + "&lt;x&gt; " * 40 + "</p>")
    short = text.short_text(long)
    assert "<" not in short and not short.endswith(("&", "&l", "&lt")) and short.endswith("&gt;")
    assert text.plain(text.plain("Q&A <b>bold</b>")) == text.plain("Q&A <b>bold</b>") == "Q&amp;A bold"


@pytest.mark.parametrize(("display", "name"), [("Administrator", "administrator"), ("#Product Manager!", "productmanager"),
                                              ("café_au_lait", "café_au_lait")])
def test_a_tag_name_is_the_lowercase_hashtag_of_its_display_name(display: str, name: str) -> None:
    assert hashtag(display) == name


def test_reaction_slots_are_checked_against_the_configured_number() -> None:
    assert posts.check_slot("s3", 6) == 3 and posts.check_slot(6, 6) == 6
    for bad in ("s0", "s7", "x", True, None, 2.5):
        with pytest.raises(Invalid):
            posts.check_slot(bad, 6)


async def _core_users(container: Container, n: int) -> list[int]:
    async with container.uow() as uow:
        made = await accounts.upsert_chat_users(
            uow, [accounts.UserFields(chat_id=f"demo-{uuid.uuid4().hex[:8]}", name=f"Demo {i}") for i in range(n)])
    return [u.id for u in made]


async def test_demo_content_is_seeded_once_and_its_counts_match_the_rows(container: Container) -> None:
    ids = await _core_users(container, 3)
    async with container.uow() as uow:
        first = await demo.seed_demo(uow, ids)
    async with container.uow() as uow:
        again = await demo.seed_demo(uow, ids)
    assert len(first.board_ids) == 3 and first.board_ids == again.board_ids
    assert again.post_ids == [] or set(again.post_ids).isdisjoint(first.post_ids)
    async with container.read() as conn:
        for row in (await conn.execute(select(forum_posts).where(forum_posts.c.id.in_(first.post_ids)))).mappings():
            comments = (await conn.execute(select(func.count()).select_from(forum_comments).where(
                forum_comments.c.post_id == row["id"], forum_comments.c.status == 15))).scalar_one()
            replies = (await conn.execute(select(func.count()).select_from(forum_replies).where(
                forum_replies.c.post_id == row["id"], forum_replies.c.status == 15))).scalar_one()
            reactions = (await conn.execute(select(func.count()).select_from(forum_reactions).where(
                forum_reactions.c.ref_type == "POST", forum_reactions.c.ref_id == row["id"]))).scalar_one()
            assert (row["comment_count"], row["reply_count"], row["react_count"]) == (comments, replies, reactions)
            assert row["status"] == 15
            assert sum(row["reactions"].values()) == reactions


async def test_the_api_users_role_decides_who_posts_not_the_authors(container: Container) -> None:
    ids = await _core_users(container, 1)
    async with container.uow() as uow:
        summary = await demo.seed_demo(uow, ids)
    announcements = summary.board_ids[0]  # permission_for 1: admins only
    async with container.uow() as uow:
        admin_profile = await users.get_profile(uow.conn, ids[0])
        member = ApiUser(key_id=0, user_id=ids[0], role_id=MEMBER, system="t")
        with pytest.raises(Forbidden):
            await boards.check_can_post(uow.conn, member, announcements)
        admin = ApiUser(key_id=0, user_id=ids[0], role_id=ADMIN, system="t")
        assert (await boards.check_can_post(uow.conn, admin, announcements)).board_id == announcements
        assert admin_profile.role_id == ADMIN


async def test_forum_events_cross_processes_as_json(container: Container) -> None:
    ids = await _core_users(container, 2)
    async with container.uow() as uow:
        summary = await demo.seed_demo(uow, ids)
    async with container.read() as conn:
        post_id = (await conn.execute(select(forum_posts.c.id).where(
            forum_posts.c.board_id == summary.board_ids[1]).limit(1))).scalar_one()
        post = await posts.get_post(conn, post_id)
    event = PostCreated(post=post)
    assert Event.from_json(event.to_json()) == event


async def test_forum_events_of_any_unit_of_work_reach_the_outbox_in_its_transaction(container: Container) -> None:
    async with container.uow() as uow:
        sub = await webhooks.do_subscribe(uow, "forum", "http://127.0.0.1:9/never", ["post.created"], "tests")
    try:
        ids = await _core_users(container, 1)
        admin = ApiUser(key_id=0, user_id=ids[0], role_id=ADMIN, system="t")
        async with container.uow() as uow:  # a core unit of work, not an HTTP request of the forum
            board_id = (await demo.seed_demo(uow, ids)).board_ids[1]
            author = await users.ensure_profile(uow, ids[0])
            post = await posts.do_create_post(uow, admin, board_id, "Outside HTTP", "<p>x</p>", [author.msid])
        async with container.read() as conn:
            rows = (await conn.execute(select(outbox).where(outbox.c.subscription_id == sub.id))).mappings().all()
        assert [(r["event"], r["body"]["entities"]["post"][0]["post_id"]) for r in rows] == [
            ("post.created", post.post_id)]

        with pytest.raises(RuntimeError):
            async with container.uow() as uow:  # rolled back: no outbox row either
                await posts.do_create_post(uow, admin, board_id, "Rolled back", "<p>x</p>", [author.msid])
                raise RuntimeError("the change failed")
        async with container.read() as conn:
            assert len((await conn.execute(select(outbox.c.id).where(outbox.c.subscription_id == sub.id))).all()) == 1
    finally:
        async with container.uow() as uow:
            await webhooks.do_unsubscribe(uow, "forum", sub.id)


async def test_post_search_runs_on_the_databases_full_text_engine_and_follows_edits(container: Container) -> None:
    ids = await _core_users(container, 1)
    admin = ApiUser(key_id=0, user_id=ids[0], role_id=ADMIN, system="t")
    word, later = f"okapi{uuid.uuid4().hex[:8]}", f"quagga{uuid.uuid4().hex[:8]}"
    async with container.uow() as uow:
        board_id = (await demo.seed_demo(uow, ids)).board_ids[1]
        author = await users.ensure_profile(uow, ids[0])
        post = await posts.do_create_post(uow, admin, board_id, f"About {word}", "<p>text</p>", [author.msid])
    async with container.read() as conn:
        assert [p.post_id for p in (await posts.search_posts(conn, admin, word, Page()))[0]] == [post.post_id]
        if conn.dialect.name == "sqlite":
            hits = (await conn.execute(sql_text("SELECT rowid FROM forum_posts_fts WHERE forum_posts_fts MATCH :q")
                                       .bindparams(q=f'"{word}"'))).scalars().all()
            assert hits == [post.post_id]
        else:
            await conn.execute(sql_text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join((await conn.execute(sql_text(
                f"EXPLAIN SELECT id FROM forum_posts WHERE {posts.POSTS_TSVECTOR} @@ "
                f"plainto_tsquery('simple'::regconfig, '{word}')"))).scalars().all())
            assert "ix_forum_posts_search" in plan, plan
    async with container.uow() as uow:
        await posts.do_edit_post(uow, admin, post.post_id, board_id, f"About {later}", "<p>text</p>", [author.msid])
    async with container.read() as conn:
        assert (await posts.search_posts(conn, admin, word, Page()))[0] == []
        assert [p.post_id for p in (await posts.search_posts(conn, admin, later, Page()))[0]] == [post.post_id]
