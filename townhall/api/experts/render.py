"""Clarity's JSON shapes of members (full and brief), organizations and direct messages, in one
place. Money is kept in cents and shown in dollars: a float in brief members, the text
``"20.0"`` in the full member object (as Clarity's examples show each); times are ISO 8601 to
the second with a Z."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from townhall.api.experts.http import clarity_time as time
from townhall.core.experts.members import Member, Stats, timezone_now
from townhall.core.experts.messages import Conversation, DirectMessage
from townhall.core.experts.organizations import Organization

# First path segments under /experts that are the API's, never a member's page: a member whose screen
# name is one of them has their page at /experts/<id>.
RESERVED_PAGE_NAMES = frozenset({"v1", "oauth", "docs", "openapi.json", "redoc", "organizations"})


def dollars(cents: int) -> float:
    return cents / 100


def member_path(member: Member) -> str:
    """The member's public page under /experts (``routes_pages``): their screen name, or their id."""
    name = member.screen_name
    if not name or name.lower() in RESERVED_PAGE_NAMES:
        return str(member.id)
    return quote(name, safe="")


def member_url(base_url: str, member: Member) -> str:
    return f"{base_url}/experts/{member_path(member)}"


def organization_url(base_url: str, organization_id: int) -> str:
    return f"{base_url}/experts/organizations/{organization_id}"


def brief_member(member: Member, base_url: str) -> dict[str, Any]:
    """A member in lists (search, organization members, conversations)."""
    return {
        "bio": member.bio,
        "clarity_url": member_url(base_url, member),
        "first_name": member.first_name,
        "hourly_rate": dollars(member.hourly_rate_cents),
        "id": member.id,
        "image_url": member.image_url,
        "last_name": member.last_name,
        "location": member.location,
        "name": member.display_name,
        "screen_name": member.screen_name,
    }


def full_member(member: Member, stats: Stats, base_url: str) -> dict[str, Any]:
    """GET /v1/me and /v1/members: everything known of a member, with their statistics."""
    zone, label, offset = timezone_now(member.timezone)
    twitter = f"https://twitter.com/{member.twitter}" if member.twitter else None
    return {
        "amount_generated_for_charity": dollars(stats.charity_cents),
        "average_call_duration": stats.average_call_duration,
        "average_response_time": stats.average_response_time,
        "bio": member.bio,
        "charity_logo": member.charity_logo or None,
        "charity_name": member.charity_name or None,
        "charity_url": member.charity_url or None,
        "clarity_url": member_url(base_url, member),
        "created_at": time(member.created_at),
        "expertise_body": member.expertise,
        "facebook_profile_url": None,
        "first_name": member.first_name,
        "gender": None,
        "hourly_rate": str(dollars(member.hourly_rate_cents)),
        "id": member.id,
        "image_url": member.image_url,
        "last_active_at": time(member.last_active_at),
        "last_name": member.last_name,
        "linkedin_profile_url": None,
        "location": member.location,
        "profile_page_views_count": member.profile_page_views_count,
        "public_social_connections": {"facebook": False, "linkedin": False, "twitter": twitter is not None},
        "screen_name": member.screen_name,
        "timezone": zone,
        "timezone_label": label,
        "timezone_offset": offset,
        "total_calls": stats.total_calls,
        "twitter_profile_url": twitter,
        "updated_at": time(member.updated_at),
        "verified_phone_number": member.has_phone,
    }


def organization(org: Organization, base_url: str) -> dict[str, Any]:
    """An organization without its members (``member_ids`` or ``members`` are added by the caller).
    ``id`` is not in Clarity's examples; clients need it for GET /v1/organizations/:id."""
    club = org.club
    return {
        "id": club.id,
        "name": club.name,
        "description": club.description,
        "featured": org.featured,
        "free_calls": org.free_calls,
        "clarity_url": organization_url(base_url, club.id),
        "image_url": club.photo_url,
    }


def message(msg: DirectMessage) -> dict[str, Any]:
    return {"created_at": time(msg.created_at), "read": msg.read, "message": msg.text, "member_id": msg.member_id}


def conversation(conv: Conversation, other: Member, base_url: str) -> dict[str, Any]:
    return {
        "unread_message_count": conv.unread_message_count,
        "last_message": message(conv.last_message) if conv.last_message is not None else None,
        "other_member": brief_member(other, base_url),
    }
