"""Experts surface pages: the public HTML pages the ``clarity_url`` of members and organizations point
at (``/experts/<screen name or id>``, ``/experts/organizations/<id>``), mounted without the /v1
prefix. A member's page shows what their brief member object shows others (name, photo, bio,
expertise, rate, location) and only for experts (a rate or an expertise set: not every account by
its sequential id); a member who is no expert, one others may not see (deactivated, banned,
waitlisted) or nobody at all gets the same 404 page. The first path segments of the API (``render.RESERVED_PAGE_NAMES``)
are never a member's page: they answer the surface's usual JSON 404."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from townhall.api.experts import render
from townhall.api.experts.html import e, page
from townhall.api.experts.http import container_of
from townhall.core.communities import service as communities
from townhall.core.errors import Invalid, NotFound
from townhall.core.experts import members
from townhall.core.experts.members import Member
from townhall.core.fields import check_positive_id

router = APIRouter(tags=["pages"])

_CSP = "default-src 'none'; img-src https: http:; style-src 'unsafe-inline'; frame-ancestors 'none'"
FOUND_HEADERS = {"Cache-Control": "public, max-age=60", "Content-Security-Policy": _CSP,
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
NOT_FOUND_HEADERS = {**FOUND_HEADERS, "Cache-Control": "no-store"}
_STYLE = """img.photo{width:6rem;height:6rem;border-radius:50%;object-fit:cover}
h1{font-size:1.5rem;margin:.5rem 0 0} .muted{color:#666} .text{white-space:pre-line}
h2{font-size:1.05rem;margin:1.5rem 0 .25rem}"""


def _photo(url: str | None, alt: str) -> str:
    """An image only from an http(s) URL (anything else is left out)."""
    if not url or not url.lower().startswith(("https://", "http://")):
        return ""
    return f'<img class="photo" src="{e(url)}" alt="{e(alt)}">'


def _section(title: str, text: str) -> str:
    return f'<h2>{e(title)}</h2><p class="text">{e(text)}</p>' if text else ""


def rate_text(member: Member) -> str:
    """The member's rate as a page shows it ("$120.50 an hour", "Free"); empty for a non-expert."""
    if not member.is_expert:
        return ""
    return f"${member.hourly_rate_cents / 100:,.2f} an hour" if member.hourly_rate_cents else "Free"


def not_found_page(what: str) -> HTMLResponse:
    return page("Not found", f"<h1>Not found</h1><p class=\"muted\">There is no such {e(what)} here.</p>",
                headers=NOT_FOUND_HEADERS, status=404, style=_STYLE)


def member_page(member: Member) -> HTMLResponse:
    name = member.display_name or f"Member {member.id}"
    handle = f'<p class="muted">@{e(member.screen_name)}</p>' if member.screen_name else ""
    location = f'<p class="muted">{e(member.location)}</p>' if member.location else ""
    rate = rate_text(member)
    body = (f"{_photo(member.image_url, name)}<h1>{e(name)}</h1>{handle}{location}"
            f"{_section('About', member.bio)}{_section('Expertise', member.expertise)}{_section('Rate', rate)}")
    return page(name, body, headers=FOUND_HEADERS, style=_STYLE)


@router.get("/organizations/{organization_id}", response_class=HTMLResponse,
            summary="An organization's public page (its clarity_url)",
            description="HTML: the organization's name, photo, description and number of members; a 404 page "
                        "when there is no such organization.")
async def organization_page(request: Request, organization_id: str) -> HTMLResponse:
    try:
        club_id = check_positive_id(organization_id, "organization_id")
        async with container_of(request).read() as conn:
            club = await communities.access_club(conn, club_id)
    except (Invalid, NotFound):
        return not_found_page("organization")
    count = f"{club.num_members} member{'' if club.num_members == 1 else 's'}"
    body = (f"{_photo(club.photo_url, club.name)}<h1>{e(club.name)}</h1><p class=\"muted\">{e(count)}</p>"
            f"{_section('About', club.description)}")
    return page(club.name, body, headers=FOUND_HEADERS, style=_STYLE)


@router.get("/{screen_name}", response_class=HTMLResponse, summary="A member's public page (their clarity_url)",
            description="HTML: an expert's name, photo, bio, expertise, rate and location, by screen name or id; "
                        "a 404 page for nobody, a member who is not shown or is no expert (no rate or expertise). Names the API uses "
                        f"({', '.join(sorted(render.RESERVED_PAGE_NAMES))}) are never a member's page.")
async def member_page_route(request: Request, screen_name: str) -> HTMLResponse:
    if screen_name.lower() in render.RESERVED_PAGE_NAMES:
        raise StarletteHTTPException(404)  # the API's own path: the surface's JSON 404, as without this route
    try:
        async with container_of(request).read() as conn:
            member = await members.access_public_page(conn, screen_name)
    except (Invalid, NotFound):
        return not_found_page("member")
    return member_page(member)
