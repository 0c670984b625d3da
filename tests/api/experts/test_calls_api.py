"""The experts surface's calls over HTTP: Clarity's call object, requests (query, form or JSON, with an
Idempotency-Key), the four lists, a call's parties only, connect and cancel with their refusals, and
the status following the parties in the media room (the null media backend's simulated clients)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from tests.api.experts.calls_fixtures import Caller, caller, error_of
from townhall.container import Container
from townhall.core.calls import actions, service
from townhall.media.base import MediaRoomNotFound
from townhall.media.null import NullMediaBackend

CALL_FIELDS = {"created_at", "canceled_by", "duration", "expert_id", "expires_at", "hourly_rate", "id", "reason",
               "seeker_id", "status", "updated_at"}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
async def pair(container: Container, client: httpx.AsyncClient) -> tuple[Caller, Caller]:
    seeker = await caller(container, client, "seeker")
    expert = await caller(container, client, "expert", rate_cents=10_000)
    return seeker, expert


async def test_requesting_a_call_answers_clarity_s_call_object_at_the_experts_rate(
        pair: tuple[Caller, Caller]) -> None:
    seeker, expert = pair
    call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "pitching advice",
                                                        "expires_in": 24})
    assert set(call) == CALL_FIELDS
    assert (call["seeker_id"], call["expert_id"], call["status"], call["reason"]) == (
        seeker.user_id, expert.user_id, "pending", "pitching advice")
    assert call["hourly_rate"] == 100.0 and isinstance(call["hourly_rate"], float)
    assert call["canceled_by"] is None and call["duration"] is None
    assert all(TIME.match(call[k]) for k in ("created_at", "expires_at", "updated_at"))
    form = await seeker.ok("post", "/calls", 201, data={"expert_id": str(expert.user_id), "reason": "by form"})
    query = await seeker.ok("post", "/calls", 201, params={"expert_id": expert.user_id, "reason": "by query"})
    assert (form["reason"], query["reason"]) == ("by form", "by query")
    free = await expert.ok("post", "/calls", 201, json={"expert_id": seeker.user_id, "reason": "the other way"})
    assert free["hourly_rate"] == 0.0


async def test_bad_call_requests_are_refused_in_the_surfaces_error_format(
        pair: tuple[Caller, Caller], client: httpx.AsyncClient) -> None:
    seeker, expert = pair
    bad = [
        ({"expert_id": expert.user_id}, 400, "invalid_request"),
        ({"expert_id": expert.user_id, "reason": "x" * 141}, 400, "invalid_request"),
        ({"expert_id": expert.user_id, "reason": "ok", "expires_in": 0}, 400, "invalid_request"),
        ({"expert_id": expert.user_id, "reason": "ok", "expires_in": "forever"}, 400, "invalid_request"),
        ({"expert_id": "someone", "reason": "ok"}, 400, "invalid_request"),
        ({"reason": "ok"}, 400, "invalid_request"),
        ({"expert_id": seeker.user_id, "reason": "me"}, 400, "invalid_request"),
        ({"expert_id": 2**40, "reason": "nobody"}, 404, "not_found"),
    ]
    for body, status, error in bad:
        assert error_of(await seeker.post("/calls", json=body)) == (status, error), body
    assert error_of(await seeker.post("/calls", content=b"[1, 2]",
                                      headers={"Content-Type": "application/json"}))[0] == 400
    assert error_of(await seeker.post("/calls", content=b"{nope", headers={"Content-Type": "application/json"}))[0] \
        == 400
    anonymous = await client.post("/experts/v1/calls", json={"expert_id": expert.user_id, "reason": "hi"})
    assert error_of(anonymous) == (401, "invalid_token")


async def test_a_retried_request_with_its_idempotency_key_answers_the_same_call(pair: tuple[Caller, Caller]) -> None:
    seeker, expert = pair
    body = {"expert_id": expert.user_id, "reason": "retry me"}
    key = {"Idempotency-Key": "req-42"}
    first = await seeker.ok("post", "/calls", 201, json=body, headers=key)
    again = await seeker.ok("post", "/calls", 201, json=body, headers=key)
    assert again == first
    clash = await seeker.post("/calls", json={**body, "reason": "something else"}, headers=key)
    assert error_of(clash) == (409, "conflict")
    requested = await seeker.ok("get", "/calls/requested")
    assert [c["id"] for c in requested].count(first["id"]) == 1


async def test_the_lists_hold_each_members_calls_by_side_and_status(pair: tuple[Caller, Caller]) -> None:
    seeker, expert = pair
    one = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "one"})
    two = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "two"})
    assert [c["id"] for c in await seeker.ok("get", "/calls/requested")] == [two["id"], one["id"]]
    assert [c["id"] for c in await expert.ok("get", "/calls/callback")] == [two["id"], one["id"]]
    assert await seeker.ok("get", "/calls/callback") == [] and await expert.ok("get", "/calls/requested") == []
    assert [c["id"] for c in await seeker.ok("get", "/calls/requested", params={"limit": 1, "offset": 1})] == [
        one["id"]]
    canceled = await expert.ok("post", f"/calls/{one['id']}/cancel")
    assert (canceled["status"], canceled["canceled_by"]) == ("canceled", expert.user_id)
    assert [c["id"] for c in await seeker.ok("get", "/calls/canceled")] == [one["id"]]
    assert await seeker.ok("get", "/calls/completed") == []
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "many"}):
        assert error_of(await seeker.get("/calls/requested", params=params))[0] == 400


async def test_a_call_is_visible_to_its_two_parties_only(pair: tuple[Caller, Caller], container: Container,
                                                        client: httpx.AsyncClient) -> None:
    seeker, expert = pair
    other = await caller(container, client, "other")
    call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "private"})
    assert (await seeker.ok("get", f"/calls/{call['id']}")) == call
    assert (await expert.ok("get", f"/calls/{call['id']}")) == call  # pending: no connection yet
    assert error_of(await other.get(f"/calls/{call['id']}")) == (404, "not_found")
    assert error_of(await other.post(f"/calls/{call['id']}/cancel")) == (404, "not_found")
    assert error_of(await other.delete(f"/calls/{call['id']}")) == (404, "not_found")
    assert error_of(await seeker.get("/calls/999999999999"))[0] == 404
    assert error_of(await seeker.get("/calls/abc"))[0] == 400


async def test_connecting_is_the_experts_and_only_for_a_pending_call(pair: tuple[Caller, Caller],
                                                                     container: Container,
                                                                     client: httpx.AsyncClient) -> None:
    seeker, expert = pair
    other = await caller(container, client, "other")
    call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "connect me"})
    path = f"/calls/{call['id']}/connect"
    assert error_of(await seeker.post(path)) == (403, "forbidden")
    assert error_of(await other.post(path)) == (404, "not_found")
    connected = await expert.ok("post", path)
    assert connected["status"] == "dialing_seeker"
    assert set(connected) == CALL_FIELDS | {"connection"}
    assert connected["connection"]["connection_url"].startswith("null:")
    again = await expert.post(path)
    assert error_of(again) == (409, "conflict") and "pending" in again.json()["error_description"]
    canceled = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "never mind"})
    await seeker.ok("delete", f"/calls/{canceled['id']}")
    refused = await expert.post(f"/calls/{canceled['id']}/connect")
    assert error_of(refused)[0] == 409 and "canceled" in refused.json()["error_description"]


async def test_the_status_follows_the_parties_in_the_media_room_until_the_call_completes(
        pair: tuple[Caller, Caller], container: Container) -> None:
    seeker, expert = pair
    media = container.media
    assert isinstance(media, NullMediaBackend)
    call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "live"})
    room = f"call-{call['id']}"
    await expert.ok("post", f"/calls/{call['id']}/connect")
    dialing = await seeker.ok("get", f"/calls/{call['id']}")
    assert dialing["status"] == "dialing_seeker" and dialing["connection"]["connection_url"].startswith("null:")
    assert not await media.simulate_join(room, "424242")  # not a party: refused by the calls core

    assert await media.simulate_join(room, str(seeker.user_id))
    assert (await expert.ok("get", f"/calls/{call['id']}"))["status"] == "dialing_expert"
    assert await media.simulate_join(room, str(expert.user_id))
    assert (await seeker.ok("get", f"/calls/{call['id']}"))["status"] == "expert_answered"
    refused = await seeker.post(f"/calls/{call['id']}/cancel")
    assert error_of(refused) == (409, "conflict") and "in progress" in refused.json()["error_description"]

    await media.simulate_leave(room, str(expert.user_id), voluntary=True)  # hangs up
    done = await seeker.ok("get", f"/calls/{call['id']}")
    assert done["status"] == "call_completed" and isinstance(done["duration"], int) and "connection" not in done
    assert [c["id"] for c in await expert.ok("get", "/calls/completed")] == [call["id"]]
    with pytest.raises(MediaRoomNotFound):  # the call's room is gone
        await media.participants(room)


async def test_a_party_whose_connection_drops_keeps_the_call_until_the_reconnect_grace_runs_out(
        pair: tuple[Caller, Caller], container: Container) -> None:
    seeker, expert = pair
    media = container.media
    assert isinstance(media, NullMediaBackend)
    call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "flaky network"})
    room = f"call-{call['id']}"
    await expert.ok("post", f"/calls/{call['id']}/connect")
    for party in (seeker, expert):
        assert await media.simulate_join(room, str(party.user_id))
    await media.simulate_leave(room, str(seeker.user_id))  # dropped, not hung up
    away = await seeker.ok("get", f"/calls/{call['id']}")
    assert away["status"] == "expert_answered" and away["connection"]["connection_url"].startswith("null:")
    assert await media.simulate_join(room, str(seeker.user_id))  # back in
    await media.simulate_leave(room, str(expert.user_id))
    async with container.read() as conn:
        dropped = await service.get_call(conn, call["id"])
    assert dropped is not None and dropped.expert_left_at is not None
    grace = timedelta(seconds=container.settings.experts.reconnect_grace)
    await actions.tick(container, at=dropped.expert_left_at + grace)  # the expert did not come back
    done = await seeker.ok("get", f"/calls/{call['id']}")
    assert done["status"] == "call_completed" and isinstance(done["duration"], int) and "connection" not in done


async def test_either_party_cancels_and_a_dialing_call_loses_its_room(pair: tuple[Caller, Caller],
                                                                    container: Container) -> None:
    seeker, expert = pair
    call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "cancel me"})
    await expert.ok("post", f"/calls/{call['id']}/connect")
    canceled = await seeker.ok("delete", f"/calls/{call['id']}")
    assert (canceled["status"], canceled["canceled_by"]) == ("canceled", seeker.user_id)
    assert "connection" not in await expert.ok("get", f"/calls/{call['id']}")
    again = await expert.post(f"/calls/{call['id']}/cancel")
    assert error_of(again) == (409, "conflict")


async def test_the_openapi_description_documents_the_connection_extension(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/experts/openapi.json")).json()
    described = spec["paths"]["/v1/calls/{call_id}"]["get"]["description"]
    assert "connection_url" in described and "expert_answered" in described
    assert "/v1/calls/{call_id}/connect" in spec["paths"] and "/v1/needs/{need_id}/fulfill" in spec["paths"]


async def test_polling_a_live_call_reuses_the_partys_connection_instead_of_asking_the_media_server_each_time(
        pair: tuple[Caller, Caller], container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    seeker, expert = pair
    media = container.media
    asked: list[tuple[str, str]] = []
    issue = media.credentials

    async def counted(room_id: str, user_id: str, **options: object) -> object:
        asked.append((room_id, user_id))
        return await issue(room_id, user_id, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(media, "credentials", counted)
    call = await seeker.ok("post", "/calls", 201, json={"expert_id": expert.user_id, "reason": "polling"})
    connected = await expert.ok("post", f"/calls/{call['id']}/connect")
    polls = [await seeker.ok("get", f"/calls/{call['id']}") for _ in range(3)]
    polls += [await expert.ok("get", f"/calls/{call['id']}") for _ in range(3)]
    assert len(asked) == 2  # the two parties' credentials, made once when the expert connected
    assert {p["connection"]["connection_url"] for p in polls[3:]} == {connected["connection"]["connection_url"]}
    actions.connection_cache(container).forget(call["id"])  # after CONNECTION_TTL: fresh credentials
    assert (await seeker.ok("get", f"/calls/{call['id']}"))["connection"] and len(asked) == 3
