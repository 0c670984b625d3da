"""Organizations ARE communities (the social surface's clubs): a member sees the ones they belong
to, and the members of each. Communities hold nothing like Clarity's "featured" or "free calls"
flags, so both are false. Membership rules are the communities core's."""

from __future__ import annotations

from dataclasses import dataclass

from townhall.core.communities import service as communities
from townhall.core.communities.models import Club
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.db.database import Connection

MAX_MEMBER_IDS = 1000  # member_ids of an organization in a list; its own page lists them all
MAX_MEMBERS_PAGE = 100


@dataclass(frozen=True, slots=True)
class Organization:
    club: Club
    featured: bool = False
    free_calls: bool = False


async def organizations_of(conn: Connection, user_id: int) -> list[tuple[Organization, list[int]]]:
    """The organizations ``user_id`` belongs to (at most communities.MAX_LIST, admins' first),
    each with its member ids (at most MAX_MEMBER_IDS, oldest membership first)."""
    clubs = await communities.clubs_of_user(conn, user_id)
    ids = await communities.member_ids_of_clubs(conn, [club.id for club in clubs], limit=MAX_MEMBER_IDS)
    return [(Organization(club), ids[club.id]) for club in clubs]


async def access_organization(conn: Connection, viewer_id: int, organization_id: int) -> Organization:
    """The organization, for one of its members (NotFound / Forbidden otherwise)."""
    try:
        club = await communities.access_club(conn, organization_id)
    except NotFound as exc:
        raise NotFound("organization_not_found", "No such organization.") from exc
    if not (await communities.relation(conn, organization_id, viewer_id)).is_member:
        raise Forbidden("not_organization_member", "Only the organization's members can see it.")
    return Organization(club)


async def organization_member_ids(conn: Connection, viewer_id: int, organization_id: int, *, limit: int,
                                  offset: int) -> tuple[list[int], int]:
    """(a page of the organization's active members, admins first; how many there are)."""
    if not 1 <= limit <= MAX_MEMBERS_PAGE or offset < 0:
        raise Invalid("invalid_request", f"limit must be from 1 to {MAX_MEMBERS_PAGE} and offset at least 0.")
    found, total = await communities.club_members(conn, viewer_id, organization_id, limit=limit, offset=offset)
    return [m.user_id for m in found], total
