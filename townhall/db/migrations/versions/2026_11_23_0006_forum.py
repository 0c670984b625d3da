"""forum surface and the outbox

Full-text search of posts is written by hand (as chat's in 0002), on each database's own engine:
- SQLite: an external-content FTS5 index ``forum_posts_fts`` (rowid = forum_posts.id, columns
  headline and clean_text) kept in sync by triggers.
- PostgreSQL: a GIN index on the expression ``POSTS_TSVECTOR`` that ``core/forum/posts.py``
  queries with (the very same text, so the planner uses the index).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 06:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from townhall.db.base import UTCDateTime

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTS_TSVECTOR = "to_tsvector('simple'::regconfig, headline || ' ' || clean_text)"
SQLITE_TRIGGERS = {
    "forum_posts_fts_insert": """
        CREATE TRIGGER forum_posts_fts_insert AFTER INSERT ON forum_posts BEGIN
            INSERT INTO forum_posts_fts (rowid, headline, clean_text) VALUES (new.id, new.headline, new.clean_text);
        END""",
    "forum_posts_fts_delete": """
        CREATE TRIGGER forum_posts_fts_delete AFTER DELETE ON forum_posts BEGIN
            INSERT INTO forum_posts_fts (forum_posts_fts, rowid, headline, clean_text)
            VALUES ('delete', old.id, old.headline, old.clean_text);
        END""",
    "forum_posts_fts_update": """
        CREATE TRIGGER forum_posts_fts_update AFTER UPDATE OF headline, clean_text ON forum_posts BEGIN
            INSERT INTO forum_posts_fts (forum_posts_fts, rowid, headline, clean_text)
            VALUES ('delete', old.id, old.headline, old.clean_text);
            INSERT INTO forum_posts_fts (rowid, headline, clean_text) VALUES (new.id, new.headline, new.clean_text);
        END""",
}


def _create_post_search() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE forum_posts_fts USING fts5("
                   "headline, clean_text, content='forum_posts', content_rowid='id')")
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)
        op.execute("INSERT INTO forum_posts_fts (forum_posts_fts) VALUES ('rebuild')")
    else:
        op.execute(f"CREATE INDEX ix_forum_posts_search ON forum_posts USING gin (({POSTS_TSVECTOR}))")


def _drop_post_search() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS forum_posts_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_forum_posts_search")


def upgrade() -> None:
    op.create_table('forum_boards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('board_name', sa.String(length=255), nullable=False),
    sa.Column('board_type', sa.String(length=32), nullable=False),
    sa.Column('about', sa.Text(), nullable=True),
    sa.Column('icon', sa.Text(), nullable=True),
    sa.Column('is_private', sa.Boolean(), nullable=False),
    sa.Column('hidden_type', sa.Integer(), nullable=False),
    sa.Column('permission_for', sa.Integer(), nullable=False),
    sa.Column('needs_approval', sa.Boolean(), nullable=False),
    sa.Column('display_order', sa.Integer(), nullable=False),
    sa.Column('pinned_posts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('post_count', sa.Integer(), nullable=False),
    sa.Column('last_posted_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_modified_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_boards'))
    )
    op.create_table('forum_tags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('image', sa.Text(), nullable=True),
    sa.Column('og_image', sa.Text(), nullable=True),
    sa.Column('og_title', sa.String(length=255), nullable=True),
    sa.Column('og_description', sa.Text(), nullable=True),
    sa.Column('back_color', sa.String(length=16), nullable=False),
    sa.Column('text_color', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_forum_tags_name'))
    )
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('surface', sa.String(length=16), nullable=False),
    sa.Column('target_url', sa.Text(), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('failing_since', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('paused_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions'))
    )
    op.create_table('forum_profiles',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('sid', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('username_key', sa.String(length=64), nullable=False),
    sa.Column('first_name', sa.String(length=128), nullable=False),
    sa.Column('middle_name', sa.String(length=128), nullable=True),
    sa.Column('last_name', sa.String(length=128), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_key', sa.String(length=320), nullable=True),
    sa.Column('sso_id', sa.String(length=255), nullable=True),
    sa.Column('user_avatar', sa.Text(), nullable=True),
    sa.Column('banner', sa.Text(), nullable=True),
    sa.Column('lang', sa.String(length=16), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('user_description', sa.Text(), nullable=True),
    sa.Column('social_media_links', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('meta', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('is_bot', sa.Boolean(), nullable=False),
    sa.Column('user_status', sa.Integer(), nullable=False),
    sa.Column('login_count', sa.Integer(), nullable=False),
    sa.Column('post_count', sa.Integer(), nullable=False),
    sa.Column('comment_count', sa.Integer(), nullable=False),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_modified_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_forum_profiles')),
    sa.UniqueConstraint('email_key', name=op.f('uq_forum_profiles_email_key')),
    sa.UniqueConstraint('sid', name=op.f('uq_forum_profiles_sid')),
    sa.UniqueConstraint('sso_id', name=op.f('uq_forum_profiles_sso_id')),
    sa.UniqueConstraint('username_key', name=op.f('uq_forum_profiles_username_key'))
    )
    op.create_index('ix_forum_profiles_status_created', 'forum_profiles', ['user_status', 'created_at'], unique=False)
    op.create_table('forum_tag_maps',
    sa.Column('tag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ref_type', sa.String(length=16), nullable=False),
    sa.Column('ref_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['forum_tags.id'], name=op.f('fk_forum_tag_maps_tag_id_forum_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tag_id', 'ref_type', 'ref_id', name=op.f('pk_forum_tag_maps'))
    )
    op.create_index('ix_forum_tag_maps_ref', 'forum_tag_maps', ['ref_type', 'ref_id'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', UTCDateTime(timezone=True), nullable=False),
    sa.Column('claim_token', sa.String(length=36), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_outbox_subscription_id_webhook_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_outbox_delivery_id'))
    )
    op.create_index('ix_outbox_pending', 'outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_outbox_subscription', 'outbox', ['subscription_id', 'id'], unique=False)
    op.create_table('forum_api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['forum_profiles.user_id'], name=op.f('fk_forum_api_keys_user_id_forum_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_forum_api_keys_key_hash'))
    )
    op.create_table('forum_idempotency',
    sa.Column('key_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['forum_api_keys.id'], name=op.f('fk_forum_idempotency_key_id_forum_api_keys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'idempotency_key', name=op.f('pk_forum_idempotency'))
    )
    op.create_table('forum_board_members',
    sa.Column('board_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['board_id'], ['forum_boards.id'], name=op.f('fk_forum_board_members_board_id_forum_boards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['forum_profiles.user_id'], name=op.f('fk_forum_board_members_user_id_forum_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('board_id', 'user_id', name=op.f('pk_forum_board_members'))
    )
    op.create_table('forum_posts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('board_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('headline', sa.String(length=512), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('clean_text', sa.Text(), nullable=False),
    sa.Column('post_short_text', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('comment_count', sa.Integer(), nullable=False),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('react_count', sa.Integer(), nullable=False),
    sa.Column('reactions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('view_count', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_modified_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_edited_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_key', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['board_id'], ['forum_boards.id'], name=op.f('fk_forum_posts_board_id_forum_boards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['forum_profiles.user_id'], name=op.f('fk_forum_posts_user_id_forum_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_posts'))
    )
    op.create_index('ix_forum_posts_board_status', 'forum_posts', ['board_id', 'status', 'id'], unique=False)
    _create_post_search()
    op.create_table('forum_reactions',
    sa.Column('ref_type', sa.String(length=16), nullable=False),
    sa.Column('ref_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['forum_profiles.user_id'], name=op.f('fk_forum_reactions_user_id_forum_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ref_type', 'ref_id', 'user_id', name=op.f('pk_forum_reactions'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_webhook_deliveries_outbox_id_outbox'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    op.create_index('ix_webhook_deliveries_subscription', 'webhook_deliveries', ['subscription_id', 'id'], unique=False)
    op.create_table('forum_comments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('clean_text', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('state', sa.Integer(), nullable=False),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('react_count', sa.Integer(), nullable=False),
    sa.Column('reactions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_modified_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_edited_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_key', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_comments_post_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['forum_profiles.user_id'], name=op.f('fk_forum_comments_user_id_forum_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_comments'))
    )
    op.create_index('ix_forum_comments_post', 'forum_comments', ['post_id', 'id'], unique=False)
    op.create_table('forum_replies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('comment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('clean_text', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('state', sa.Integer(), nullable=False),
    sa.Column('react_count', sa.Integer(), nullable=False),
    sa.Column('reactions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_modified_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_edited_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_key', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['forum_comments.id'], name=op.f('fk_forum_replies_comment_id_forum_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_replies_post_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['forum_profiles.user_id'], name=op.f('fk_forum_replies_user_id_forum_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_replies'))
    )
    op.create_index('ix_forum_replies_comment', 'forum_replies', ['comment_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_forum_replies_comment', table_name='forum_replies')
    op.drop_table('forum_replies')
    op.drop_index('ix_forum_comments_post', table_name='forum_comments')
    op.drop_table('forum_comments')
    op.drop_index('ix_webhook_deliveries_subscription', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_table('forum_reactions')
    _drop_post_search()
    op.drop_index('ix_forum_posts_board_status', table_name='forum_posts')
    op.drop_table('forum_posts')
    op.drop_table('forum_board_members')
    op.drop_table('forum_idempotency')
    op.drop_table('forum_api_keys')
    op.drop_index('ix_outbox_subscription', table_name='outbox')
    op.drop_index('ix_outbox_pending', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_forum_tag_maps_ref', table_name='forum_tag_maps')
    op.drop_table('forum_tag_maps')
    op.drop_index('ix_forum_profiles_status_created', table_name='forum_profiles')
    op.drop_table('forum_profiles')
    op.drop_table('webhook_subscriptions')
    op.drop_table('forum_tags')
    op.drop_table('forum_boards')
