"""Clubhouse shapes of clubs, topics and scheduled events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from townhall.api.social.render import user_item
from townhall.core.accounts.profiles import Profile
from townhall.core.communities.models import Club, ClubMember, Relation
from townhall.core.rooms.scheduled import ScheduledEvent
from townhall.core.social.topics import Topic


def time_text(dt: datetime) -> str:
    """The era's timestamps: ``2021-01-28T12:30:25.625451+00:00``."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def club_item(club: Club, rel: Relation | None = None) -> dict[str, Any]:
    """A club in a list (get_club, search, topic lists): the seed's short club."""
    rel = rel or Relation()
    return {
        "club_id": club.id, "name": club.name, "description": club.description, "photo_url": club.photo_url,
        "num_members": club.num_members, "num_followers": club.num_followers,
        "is_member": rel.is_member, "is_follower": rel.is_follower,
    }


def club_full(club: Club) -> dict[str, Any]:
    """A club with its settings and rules (profiles, rooms, events)."""
    return {
        "club_id": club.id, "name": club.name, "description": club.description, "photo_url": club.photo_url,
        "num_members": club.num_members, "num_followers": club.num_followers, "num_online": 0,
        "enable_private": club.enable_private, "is_community": club.is_community,
        "is_follow_allowed": club.is_follow_allowed, "is_membership_private": club.is_membership_private,
        "rules": [{"title": r.get("title", ""), "desc": r.get("desc", "")} for r in club.rules],
    }


def club_detail(club: Club, rel: Relation) -> dict[str, Any]:
    return {**club_full(club), **club_item(club, rel)}


def topic(t: Topic) -> dict[str, Any]:
    return {"id": t.id, "title": t.title, "abbreviated_title": t.abbreviated_title}


def topic_tree(t: Topic) -> dict[str, Any]:
    return {**topic(t), "topics": [topic(c) for c in t.children]}


def member_item(m: ClubMember, p: Profile) -> dict[str, Any]:
    return {**user_item(p), "is_admin": m.is_admin, "is_member": m.is_member, "is_follower": m.is_follower,
            "time_joined": time_text(m.since)}


def event(e: ScheduledEvent, *, viewer_id: int, club: Club | None, rel: Relation | None,
          hosts: dict[int, Profile], base_url: str) -> dict[str, Any]:
    rel = rel or Relation()
    return {
        "event_id": e.id, "name": e.name, "description": e.description, "time_start": time_text(e.time_start),
        "is_expired": e.is_expired(), "is_member_only": e.is_member_only,
        "url": f"{base_url}/social/api/get_event?event_hashid={e.hashid}",
        "hosts": [user_item(hosts[i]) for i in e.host_ids if i in hosts],
        "club": club_full(club) if club is not None else None,
        "club_is_member": rel.is_member, "club_is_follower": rel.is_follower,
        "channel": e.channel, "is_host": viewer_id in e.host_ids,
    }
