"""GET /experts/v1/organizations: the communities a member belongs to, and their members."""

from __future__ import annotations

import uuid

from tests.api.experts.conftest import ApiMember, NewMember, error_of
from townhall.container import Container
from townhall.core.accounts import profiles
from townhall.core.communities import service as communities

ORG_FIELDS = {"id", "name", "description", "featured", "free_calls", "clarity_url", "image_url"}


async def make_org(container: Container, admin: ApiMember, *others: ApiMember, description: str = "") -> int:
    """A community made by ``admin`` with ``others`` as members (invited, accepted)."""
    async with container.uow() as uow:
        club = await communities.do_create_club(uow, admin.id, name=f"Org {uuid.uuid4().hex[:10]}",
                                                description=description)
        for member in others:
            await communities.do_add_member(uow, admin.id, club.id, member.id)
            await communities.do_accept_invite(uow, member.id, club.id)
    return club.id


async def test_organizations_lists_mine_with_member_ids(new_member: NewMember, container: Container) -> None:
    me, vincent, outsider = await new_member(), await new_member(), await new_member()
    festival = await make_org(container, me, vincent, description="International Startup Festival")
    await make_org(container, outsider)
    body = await me.ok("GET", "/organizations")
    assert [o["id"] for o in body] == [festival]
    (org,) = body
    assert set(org) == ORG_FIELDS | {"member_ids"}
    assert org["description"] == "International Startup Festival"
    assert org["featured"] is False and org["free_calls"] is False
    assert sorted(org["member_ids"]) == sorted([me.id, vincent.id])
    assert [o["id"] for o in await vincent.ok("GET", "/organizations")] == [festival]


async def test_an_organization_shows_its_members_as_brief_members(new_member: NewMember, container: Container) -> None:
    me = await new_member(name="Justin Vaillancourt")
    vincent = await new_member(name="Vincent Roy", location="Moncton, New Brunswick", hourly_rate="20")
    org_id = await make_org(container, me, vincent)
    body = await vincent.ok("GET", f"/organizations/{org_id}")
    assert set(body) == ORG_FIELDS | {"members", "member_count"}
    assert body["member_count"] == 2
    assert [m["id"] for m in body["members"]] == [me.id, vincent.id]  # admins first
    roy = body["members"][1]
    assert (roy["name"], roy["hourly_rate"], roy["location"]) == ("Vincent Roy", 20.0, "Moncton, New Brunswick")
    page = await vincent.ok("GET", f"/organizations/{org_id}", params={"limit": 1, "offset": 1})
    assert [m["id"] for m in page["members"]] == [vincent.id] and page["member_count"] == 2


async def test_only_members_see_an_organization(new_member: NewMember, container: Container) -> None:
    admin, outsider = await new_member(), await new_member()
    org_id = await make_org(container, admin)
    assert error_of(await outsider.call("GET", f"/organizations/{org_id}")) == (403, "forbidden")
    assert error_of(await outsider.call("GET", "/organizations/999999999")) == (404, "not_found")
    assert error_of(await outsider.call("GET", "/organizations/abc")) == (400, "invalid_request")
    assert error_of(await admin.call("GET", f"/organizations/{org_id}", params={"limit": 0})) \
        == (400, "invalid_request")


async def test_members_who_left_or_are_banned_are_not_listed(new_member: NewMember, container: Container) -> None:
    admin, gone, banned = await new_member(), await new_member(), await new_member()
    org_id = await make_org(container, admin, gone, banned)
    async with container.uow() as uow:
        await communities.do_remove_member(uow, gone.id, org_id, gone.id)
        await profiles.do_ban(uow, banned.id, True)
    body = await admin.ok("GET", f"/organizations/{org_id}")
    assert [m["id"] for m in body["members"]] == [admin.id]
