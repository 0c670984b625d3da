"""The public pages ``clarity_url`` points at: a member's profile page (/experts/<screen name or
id>) and an organization's (/experts/organizations/<id>), escaped, 404 pages for nobody and for
members not shown, the API's own paths never shadowed; and omniauth-clarity's
/experts/1/members/current."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from tests.api.experts.conftest import NewMember, error_of
from tests.api.experts.test_organizations_members import make_org
from townhall.container import Container
from townhall.core.accounts import profiles
from townhall.core.accounts.tables import users


def _path(clarity_url: str) -> str:
    return clarity_url[clarity_url.index("/experts/"):]


async def _page(client: httpx.AsyncClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return response.text


async def test_a_members_clarity_url_is_their_public_profile_page(new_member: NewMember, client: httpx.AsyncClient,
                                                                 container: Container) -> None:
    ada = await new_member(name="Ada <Lovelace>", bio="Analyst & <script>alert(1)</script>",
                           expertise="Engines\nNotes", hourly_rate="120.5", location="London \"UK\"")
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == ada.id).values(image="https://img.example/a.png"))
    me = await ada.ok("GET", "/me")
    assert _path(me["clarity_url"]) == f"/experts/{ada.username}"
    page = await _page(client, _path(me["clarity_url"]))
    assert "<h1>Ada &lt;Lovelace&gt;</h1>" in page and f"@{ada.username}" in page
    assert "Analyst &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "Engines\nNotes" in page and "$120.50 an hour" in page and "London &quot;UK&quot;" in page
    assert '<img class="photo" src="https://img.example/a.png"' in page
    assert await _page(client, f"/experts/{ada.id}") == page  # by id too
    assert await _page(client, f"/experts/{ada.username.upper()}") == page


async def test_a_page_shows_no_photo_but_an_http_one_and_free_for_an_expert_without_a_rate(
        new_member: NewMember, client: httpx.AsyncClient, container: Container) -> None:
    free = await new_member(name="Free", expertise="Advice")
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == free.id).values(image="javascript:alert(1)"))
    page = await _page(client, f"/experts/{free.username}")
    assert "<img" not in page and "javascript" not in page and "Free" in page


async def test_only_experts_have_a_public_page(new_member: NewMember, client: httpx.AsyncClient) -> None:
    plain = await new_member(name="Plain Social")
    for path in (f"/experts/{plain.username}", f"/experts/{plain.id}"):
        page = await _page(client, path, 404)
        assert "Plain Social" not in page
    rated = await new_member(name="Rated", hourly_rate="10")
    assert "Rated" in await _page(client, f"/experts/{rated.id}")


async def test_nobody_and_members_not_shown_get_a_404_page(new_member: NewMember, client: httpx.AsyncClient,
                                                           container: Container) -> None:
    banned = await new_member(name="Banned Member", expertise="Banking")
    assert "Banned Member" in await _page(client, f"/experts/{banned.username}")
    async with container.uow() as uow:
        await profiles.do_ban(uow, banned.id, True)
    for path in (f"/experts/{banned.username}", f"/experts/{banned.id}", "/experts/nobody_here_zz",
                 "/experts/999999999999", "/experts/%3Cb%3E"):
        page = await _page(client, path, 404)
        assert "Not found" in page and "Banned Member" not in page and "<b>" not in page


async def test_the_api_paths_are_never_member_pages(new_member: NewMember, client: httpx.AsyncClient) -> None:
    named_like_the_api = await new_member(name="Vee One", username="v1", expertise="Versions")
    me = await named_like_the_api.ok("GET", "/me")
    assert _path(me["clarity_url"]) == f"/experts/{named_like_the_api.id}"  # their page is by id
    assert "Vee One" in await _page(client, _path(me["clarity_url"]))
    for path in ("/experts/v1", "/experts/V1", "/experts/oauth", "/experts/organizations", "/experts/redoc"):
        assert error_of(await client.get(path)) == (404, "not_found"), path
    assert (await client.get("/experts/docs")).headers["content-type"].startswith("text/html")
    assert "/v1/me" in (await client.get("/experts/openapi.json")).json()["paths"]
    assert (await named_like_the_api.ok("GET", "/me"))["id"] == named_like_the_api.id


async def test_an_organizations_clarity_url_is_its_public_page(new_member: NewMember, client: httpx.AsyncClient,
                                                              container: Container) -> None:
    admin, member = await new_member(), await new_member()
    org_id = await make_org(container, admin, member, description="Founders <&> friends")
    (org,) = [o for o in await admin.ok("GET", "/organizations") if o["id"] == org_id]
    assert _path(org["clarity_url"]) == f"/experts/organizations/{org_id}"
    page = await _page(client, _path(org["clarity_url"]))
    assert "Founders &lt;&amp;&gt; friends" in page and "2 members" in page and "<h1>Org " in page
    for path in ("/experts/organizations/999999999", "/experts/organizations/abc", "/experts/organizations/0"):
        assert "Not found" in await _page(client, path, 404)


async def test_omniauth_clarity_reads_the_member_at_1_members_current(new_member: NewMember,
                                                                     client: httpx.AsyncClient) -> None:
    dan = await new_member(name="Dan Martell")
    me = await dan.ok("GET", "/me")
    current = await client.get("/experts/1/members/current", params={"oauth_token": dan.token})
    assert current.status_code == 200 and current.json() == me
    by_header = await client.get("/experts/1/members/current", headers=dan.auth)
    assert by_header.json() == me
    assert error_of(await client.get("/experts/1/members/current")) == (401, "invalid_token")
    assert error_of(await client.get("/experts/1/members/current", params={"oauth_token": "nope"})) == (
        401, "invalid_token")
