"""The experts surface's needs over HTTP: posting (Clarity answers a list), who sees them (members of
the requester's organizations), fulfilling one into a pending call, and the refusals."""

from __future__ import annotations

import httpx

from tests.api.experts.calls_fixtures import caller, error_of
from tests.core.calls.factories import make_club
from townhall.container import Container


async def test_needs_are_posted_and_seen_by_the_members_of_the_requesters_organizations(
        container: Container, client: httpx.AsyncClient) -> None:
    ann = await caller(container, client, "ann")
    bob = await caller(container, client, "bob")
    eve = await caller(container, client, "eve")
    await make_club(container, ann.user, members=[bob.user])
    posted = await ann.ok("post", "/needs", 201, json={"description": "An intro to a VC", "paid": True})
    assert isinstance(posted, list) and len(posted) == 1
    (need,) = posted
    assert set(need) == {"id", "created_at", "description", "paid", "requester_id"}
    assert (need["description"], need["paid"], need["requester_id"]) == ("An intro to a VC", True, ann.user_id)
    by_form = await ann.ok("post", "/needs", 201, data={"description": "Hiring help", "paid": "false"})
    assert by_form[0]["paid"] is False
    assert [n["id"] for n in await bob.ok("get", "/needs")][:2] == [by_form[0]["id"], need["id"]]
    assert need["id"] in [n["id"] for n in await ann.ok("get", "/needs")]
    assert need["id"] not in [n["id"] for n in await eve.ok("get", "/needs")]
    assert [n["id"] for n in await bob.ok("get", "/needs", params={"limit": 1, "offset": 1})] == [need["id"]]


async def test_bad_needs_are_refused(container: Container, client: httpx.AsyncClient) -> None:
    ann = await caller(container, client, "ann")
    for body in ({}, {"description": ""}, {"description": "x" * 1001}, {"description": "ok", "paid": "perhaps"}):
        assert error_of(await ann.post("/needs", json=body)) == (400, "invalid_request"), body
    assert error_of(await client.get("/experts/v1/needs"))[0] == 401


async def test_fulfilling_a_need_makes_a_pending_call_once(container: Container, client: httpx.AsyncClient) -> None:
    ann = await caller(container, client, "ann")
    bob = await caller(container, client, "bob", rate_cents=4_500)
    cat = await caller(container, client, "cat")
    eve = await caller(container, client, "eve")
    await make_club(container, ann.user, members=[bob.user, cat.user])
    (paid,) = await ann.ok("post", "/needs", 201, json={"description": "Pricing advice", "paid": True})
    (free,) = await ann.ok("post", "/needs", 201, json={"description": "A quick chat"})
    path = f"/needs/{paid['id']}/fulfill"
    assert error_of(await ann.post(path)) == (403, "forbidden")
    assert error_of(await eve.post(path)) == (404, "not_found")
    call = await bob.ok("post", path, 201)
    assert (call["status"], call["seeker_id"], call["expert_id"], call["reason"], call["hourly_rate"]) == (
        "pending", ann.user_id, bob.user_id, "Pricing advice", 45.0)
    assert (await bob.ok("post", path, 201))["id"] == call["id"]  # a retry
    assert error_of(await cat.post(path)) == (409, "conflict")
    assert [c["id"] for c in await ann.ok("get", "/calls/requested")][0] == call["id"]
    assert [c["id"] for c in await bob.ok("get", "/calls/callback")][0] == call["id"]
    assert paid["id"] not in [n["id"] for n in await cat.ok("get", "/needs")]
    assert (await bob.ok("post", f"/needs/{free['id']}/fulfill", 201))["hourly_rate"] == 0.0
    assert error_of(await bob.post("/needs/999999999999/fulfill")) == (404, "not_found")
    assert error_of(await bob.post("/needs/abc/fulfill"))[0] == 400
