"""The forum's things as the core hands them out, and its fixed vocabularies (statuses, roles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from townhall.core.errors import Invalid

T = TypeVar("T")

# Entity statuses (posts, comments, replies, boards).
ACTIVE = 15
APPROVAL_REQUIRED = 4
APPROVAL_REJECTED = 3
DRAFT = 2
INACTIVE = 0
REPORTED = -2
SPAM = -3
DELETED = -100
STATUSES = (ACTIVE, APPROVAL_REQUIRED, APPROVAL_REJECTED, DRAFT, INACTIVE, REPORTED, SPAM, DELETED)

# Comment and reply ``state``.
STATE_DEFAULT = 0

# User statuses.
USER_ACTIVE = 10
USER_UNVERIFIED = 6
USER_INVITED = 5
USER_WAITLIST = 4
USER_INACTIVE = 0
USER_BANNED = -3
USER_DELETED = -100
USER_STATUSES = (USER_ACTIVE, USER_UNVERIFIED, USER_INVITED, USER_WAITLIST, USER_INACTIVE, USER_BANNED,
                 USER_DELETED)
# What a new user may start as.
NEW_USER_STATUSES = (USER_ACTIVE, USER_UNVERIFIED, USER_INVITED, USER_WAITLIST)

# Board visibility and posting rights.
HIDDEN_TYPES = (0, 1, 2)
HIDDEN_NONE, HIDDEN_GUESTS, HIDDEN_NON_MEMBERS = HIDDEN_TYPES
PERMISSION_ADMINS, PERMISSION_MODERATORS, PERMISSION_MEMBERS = 1, 5, 10
PERMISSIONS_FOR = (PERMISSION_ADMINS, PERMISSION_MODERATORS, PERMISSION_MEMBERS)

REF_POST, REF_COMMENT, REF_REPLY, REF_USER = "POST", "COMMENT", "REPLY", "USER"
REF_TYPES = (REF_POST, REF_COMMENT, REF_REPLY, REF_USER)


@dataclass(frozen=True, slots=True)
class Role:
    role_id: int
    role_name: str
    role_details: str
    is_default: bool = True


OWNER, ADMIN, MODERATOR, MEMBER = 1, 2, 3, 4
ROLES: dict[int, Role] = {
    OWNER: Role(OWNER, "Owner", "Owner of the community, with every permission"),
    ADMIN: Role(ADMIN, "Admin", "Admin role manages boards, members, roles and settings"),
    MODERATOR: Role(MODERATOR, "Moderator", "Moderator role has additional permissions compared to members, "
                                            "to keep discussions organized"),
    MEMBER: Role(MEMBER, "Member", "Member role with default permissions"),
}


@dataclass(frozen=True, slots=True)
class ApiUser:
    """Who calls: an API key, acting as its bot profile with that profile's role."""

    key_id: int
    user_id: int
    role_id: int
    system: str  # the Basic auth username: the calling system, kept for audit

    @property
    def is_admin(self) -> bool:
        return self.role_id in (OWNER, ADMIN)

    @property
    def is_moderator(self) -> bool:
        """Moderators and above."""
        return self.role_id in (OWNER, ADMIN, MODERATOR)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Profile(_Model):
    user_id: int
    sid: str
    username: str
    first_name: str
    middle_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    sso_id: str | None = None
    user_avatar: str | None = None
    banner: str | None = None
    lang: str
    timezone: str
    user_description: str | None = None
    social_media_links: dict[str, Any] | None = None
    meta: dict[str, Any]
    role_id: int
    is_bot: bool
    user_status: int
    login_count: int
    post_count: int
    comment_count: int
    reply_count: int
    created_at: datetime
    last_modified_at: datetime

    @property
    def msid(self) -> str:
        return f"{self.user_id}.{self.sid}"


class Board(_Model):
    board_id: int
    board_name: str
    board_type: str
    about: str | None = None
    icon: str | None = None
    is_private: bool
    hidden_type: int
    permission_for: int
    needs_approval: bool
    display_order: int
    pinned_posts: list[int]
    post_count: int
    last_posted_at: datetime | None = None
    status: int
    created_at: datetime
    last_modified_at: datetime


class Post(_Model):
    post_id: int
    board_id: int
    headline: str
    content: str
    clean_text: str
    post_short_text: str
    post_status: int
    comment_count: int
    reply_count: int
    react_count: int
    reactions: dict[str, int]
    view_count: int
    created_at: datetime
    last_modified_at: datetime
    last_edited_at: datetime | None = None
    author: Profile
    created_by_key: int | None = None  # the API key that wrote it


class Comment(_Model):
    comment_id: int
    post_id: int
    content: str
    clean_text: str
    comment_status: int
    state: int
    reply_count: int
    react_count: int
    reactions: dict[str, int]
    created_at: datetime
    last_modified_at: datetime
    last_edited_at: datetime | None = None
    author: Profile
    created_by_key: int | None = None  # the API key that wrote it


class Reply(_Model):
    reply_id: int
    comment_id: int
    post_id: int
    content: str
    clean_text: str
    status: int
    state: int
    react_count: int
    reactions: dict[str, int]
    created_at: datetime
    last_modified_at: datetime
    last_edited_at: datetime | None = None
    author: Profile
    created_by_key: int | None = None  # the API key that wrote it


class Tag(_Model):
    tag_id: int
    name: str
    display_name: str
    description: str | None = None
    image: str | None = None
    og_image: str | None = None
    og_title: str | None = None
    og_description: str | None = None
    back_color: str
    text_color: str


MAX_ID = 2**62


def check_id(value: Any, name: str) -> int:
    """An id sent by a client: a positive integer (or its digits) the database can hold.

    Duplicates ``core/communities``' check_id: to be replaced by the shared
    ``townhall.core.ids.check_positive_id(value, name)`` once that module exists."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid(f"invalid_{name}", f"{name} must be an id", field=name)
    return value


@dataclass(frozen=True, slots=True)
class Page:
    """``page`` (from 1) and ``page_size`` of a list."""

    page: int = 1
    size: int = 10

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def split_page(rows: list[T], page: Page) -> tuple[list[T], bool]:
    """Rows fetched with ``limit=page.size + 1``: (the page, whether more may follow)."""
    return rows[: page.size], len(rows) > page.size
