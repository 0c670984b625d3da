"""Communities as the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ADMIN = "admin"
MEMBER = "member"
NOMINATED = "nominated"
INVITED = "invited"


@dataclass(frozen=True, slots=True)
class Club:
    id: int
    name: str
    description: str
    photo_url: str | None
    rules: list[dict[str, Any]]
    is_follow_allowed: bool
    is_membership_private: bool
    is_community: bool
    enable_private: bool
    created_by_id: int | None
    created_at: datetime
    num_members: int = 0
    num_followers: int = 0


@dataclass(frozen=True, slots=True)
class Relation:
    """What a user is to a club."""

    role: str | None = None  # ADMIN | MEMBER | None
    is_follower: bool = False
    invite_status: str | None = None  # NOMINATED | INVITED | None
    invited_by_id: int | None = None  # who added them (member) or invited them (pending)

    @property
    def is_member(self) -> bool:
        return self.role is not None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def is_pending_accept(self) -> bool:
        return self.invite_status == INVITED

    @property
    def is_pending_approval(self) -> bool:
        return self.invite_status == NOMINATED


@dataclass(frozen=True, slots=True)
class ClubMember:
    user_id: int
    is_admin: bool
    is_member: bool
    is_follower: bool
    since: datetime


@dataclass(frozen=True, slots=True)
class Nomination:
    id: int
    club_id: int
    user_id: int
    nominated_by_id: int | None
    message: str | None
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
