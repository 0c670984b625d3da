"""Tables of the forum domain: profiles, API keys, boards, posts, comments, replies, reactions, tags."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from townhall.db.base import BigId, Json, UTCDateTime, metadata

# The forum profile of a core user: msid = "<user_id>.<sid>".
forum_profiles = Table(
    "forum_profiles",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("sid", String(32), nullable=False, unique=True),
    Column("username", String(64), nullable=False),
    Column("username_key", String(64), nullable=False, unique=True),
    Column("first_name", String(128), nullable=False),
    Column("middle_name", String(128)),
    Column("last_name", String(128)),
    Column("email", String(320)),
    Column("email_key", String(320), unique=True),
    Column("sso_id", String(255), unique=True),
    Column("user_avatar", Text),
    Column("banner", Text),
    Column("lang", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("user_description", Text),
    Column("social_media_links", Json),
    Column("meta", Json, nullable=False),
    Column("role_id", Integer, nullable=False),
    Column("is_bot", Boolean, nullable=False),
    Column("user_status", Integer, nullable=False),
    Column("login_count", Integer, nullable=False),
    Column("post_count", Integer, nullable=False),
    Column("comment_count", Integer, nullable=False),
    Column("reply_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_modified_at", UTCDateTime, nullable=False),
    Index("ix_forum_profiles_status_created", "user_status", "created_at"),
)

# API keys, stored hashed; each acts as an API user (a bot profile) with a role.
forum_api_keys = Table(
    "forum_api_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("user_id", BigId, ForeignKey("forum_profiles.user_id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

forum_boards = Table(
    "forum_boards",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("board_name", String(255), nullable=False),
    Column("board_type", String(32), nullable=False),
    Column("about", Text),
    Column("icon", Text),
    Column("is_private", Boolean, nullable=False),
    Column("hidden_type", Integer, nullable=False),
    Column("permission_for", Integer, nullable=False),
    Column("needs_approval", Boolean, nullable=False),
    Column("display_order", Integer, nullable=False),
    Column("pinned_posts", Json, nullable=False),
    Column("post_count", Integer, nullable=False),
    Column("last_posted_at", UTCDateTime),
    Column("status", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_modified_at", UTCDateTime, nullable=False),
)

forum_board_members = Table(
    "forum_board_members",
    metadata,
    Column("board_id", BigId, ForeignKey("forum_boards.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigId, ForeignKey("forum_profiles.user_id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

forum_posts = Table(
    "forum_posts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("board_id", BigId, ForeignKey("forum_boards.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("forum_profiles.user_id", ondelete="CASCADE"), nullable=False),
    Column("headline", String(512), nullable=False),
    Column("content", Text, nullable=False),
    Column("clean_text", Text, nullable=False),
    Column("post_short_text", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("comment_count", Integer, nullable=False),
    Column("reply_count", Integer, nullable=False),
    Column("react_count", Integer, nullable=False),
    Column("reactions", Json, nullable=False),
    Column("view_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_modified_at", UTCDateTime, nullable=False),
    Column("last_edited_at", UTCDateTime),
    Column("created_by_key", BigId),  # the API key that wrote it (it may edit it: posts._check_editor)
    Index("ix_forum_posts_board_status", "board_id", "status", "id"),
)

forum_comments = Table(
    "forum_comments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("post_id", BigId, ForeignKey("forum_posts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("forum_profiles.user_id", ondelete="CASCADE"), nullable=False),
    Column("content", Text, nullable=False),
    Column("clean_text", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("reply_count", Integer, nullable=False),
    Column("react_count", Integer, nullable=False),
    Column("reactions", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_modified_at", UTCDateTime, nullable=False),
    Column("last_edited_at", UTCDateTime),
    Column("created_by_key", BigId),  # the API key that wrote it (it may edit it: posts._check_editor)
    Index("ix_forum_comments_post", "post_id", "id"),
)

forum_replies = Table(
    "forum_replies",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("comment_id", BigId, ForeignKey("forum_comments.id", ondelete="CASCADE"), nullable=False),
    Column("post_id", BigId, ForeignKey("forum_posts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigId, ForeignKey("forum_profiles.user_id", ondelete="CASCADE"), nullable=False),
    Column("content", Text, nullable=False),
    Column("clean_text", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("react_count", Integer, nullable=False),
    Column("reactions", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_modified_at", UTCDateTime, nullable=False),
    Column("last_edited_at", UTCDateTime),
    Column("created_by_key", BigId),  # the API key that wrote it (it may edit it: posts._check_editor)
    Index("ix_forum_replies_comment", "comment_id", "id"),
)

# One reaction per user per entity; ref_type is POST, COMMENT or REPLY.
forum_reactions = Table(
    "forum_reactions",
    metadata,
    Column("ref_type", String(16), primary_key=True),
    Column("ref_id", BigId, primary_key=True),
    Column("user_id", BigId, ForeignKey("forum_profiles.user_id", ondelete="CASCADE"), primary_key=True),
    Column("slot", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

forum_tags = Table(
    "forum_tags",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("description", Text),
    Column("image", Text),
    Column("og_image", Text),
    Column("og_title", String(255)),
    Column("og_description", Text),
    Column("back_color", String(16), nullable=False),
    Column("text_color", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

forum_tag_maps = Table(
    "forum_tag_maps",
    metadata,
    Column("tag_id", BigId, ForeignKey("forum_tags.id", ondelete="CASCADE"), primary_key=True),
    Column("ref_type", String(16), primary_key=True),
    Column("ref_id", BigId, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_forum_tag_maps_ref", "ref_type", "ref_id"),
)

__all__ = [
    "forum_api_keys", "forum_board_members", "forum_boards", "forum_comments", "forum_posts", "forum_profiles",
    "forum_reactions", "forum_replies", "forum_tag_maps", "forum_tags",
]

# Responses of create requests sent with an Idempotency-Key, so that a retried request answers
# the same thing instead of creating a second one.
forum_idempotency = Table(
    "forum_idempotency",
    metadata,
    Column("key_id", BigId, ForeignKey("forum_api_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    Column("path", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),  # sha256 of the body: the same key with another is refused
    Column("response", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
