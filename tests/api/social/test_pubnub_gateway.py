"""The PubNub-compatible gateway over HTTP (the protocol the PubNub SDKs speak): the handshake,
long-polls and timetokens, the room events on Clubhouse's channels, who may read what, errors in
PubNub's format, and events crossing processes over Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from tests.api.social.conftest import People, Person, sign_in_person
from townhall.api.social import pubnub_gateway
from townhall.api.social.pubnub import build_pubnub_app
from townhall.api.social.pubnub_gateway import MAX_BATCH, RING_SIZE, PubNubGateway
from townhall.app import create_app
from townhall.config import Settings
from townhall.container import Container
from townhall.core.rooms.events import UserLeft, room_topic

SUB_KEY = "sub-c-townhall-test"
BOUND = 10.0  # seconds any wait may take before the test fails (never a timing assertion)


async def start(person: Person, **fields: Any) -> dict[str, Any]:
    return await person.ok("create_channel", {"topic": "PubNub", "is_private": False, **fields})


async def join(person: Person, code: str) -> dict[str, Any]:
    return await person.ok("join_channel", {"channel": code})


def subscribe_path(channels: list[str], tt: int | str, auth: str | None, **params: Any) -> str:
    query = {"tt": str(tt), "uuid": "u", **({"auth": auth} if auth is not None else {}), **params}
    return f"/v2/subscribe/{SUB_KEY}/{','.join(channels)}/0?{httpx.QueryParams(query)}"


async def handshake(http: httpx.AsyncClient, channels: list[str], auth: str) -> int:
    response = await http.get(subscribe_path(channels, 0, auth))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["m"] == [] and isinstance(body["t"]["r"], int)
    return int(body["t"]["t"])


async def poll(http: httpx.AsyncClient, channels: list[str], tt: int, auth: str) -> dict[str, Any]:
    response = await asyncio.wait_for(http.get(subscribe_path(channels, tt, auth)), BOUND)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def collect(http: httpx.AsyncClient, channels: list[str], tt: int, auth: str,
                  count: int) -> tuple[list[dict[str, Any]], int]:
    """Poll from ``tt`` until ``count`` messages came: (the envelope entries, the last cursor)."""
    entries: list[dict[str, Any]] = []
    while len(entries) < count:
        body = await poll(http, channels, tt, auth)
        entries += body["m"]
        tt = int(body["t"]["t"])
    return entries, tt


def channels_of(code: str, user_id: int, *, speaker: bool) -> list[str]:
    return [f"users.{user_id}", f"channel_all.{code}", f"channel_user.{code}.{user_id}",
            *([f"channel_speakers.{code}"] if speaker else [])]


@pytest.fixture
async def quick(container: Container) -> AsyncIterator[tuple[httpx.AsyncClient, PubNubGateway]]:
    """A gateway of its own on the shared container whose long-polls last 0.2 s."""
    app: Starlette = build_pubnub_app(container, poll_seconds=0.2)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pubnub.test") as http:
            yield http, app.state.gateway


async def test_time_answers_a_seventeen_digit_timetoken(client: httpx.AsyncClient) -> None:
    response = await client.get("/time/0")
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"  # browsers
    (timetoken,) = response.json()
    assert isinstance(timetoken, int) and len(str(timetoken)) == 17


async def test_a_long_poll_gets_the_room_events_published_after_its_cursor(
        client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people("Ada Lovelace", "Bob")
    made = await start(ada)
    code, token = made["channel"], made["pubnub_token"]
    mine = channels_of(code, ada.user_id, speaker=True)
    cursor = await handshake(client, mine, token)

    delivered = REGISTRY.get_sample_value("townhall_pubnub_messages_delivered_total") or 0
    waiting = asyncio.create_task(poll(client, mine, cursor, token))
    await join(bob, code)
    body = await waiting
    assert REGISTRY.get_sample_value("townhall_pubnub_messages_delivered_total") == delivered + 1
    (entry,) = body["m"]
    assert int(body["t"]["t"]) >= int(entry["p"]["t"]) > cursor
    assert entry["c"] == f"channel_all.{code}" and entry["k"] == SUB_KEY and entry["i"] == str(bob.user_id)
    assert entry["f"] == 0 and entry["p"]["r"] == body["t"]["r"] and "a" in entry
    assert entry["d"] == {"action": "join_channel", "channel": code, "user_profile": {
        "user_id": bob.user_id, "name": "Bob", "username": None, "photo_url": None, "first_name": "Bob",
        "skintone": 1, "is_speaker": False, "is_moderator": False, "is_invited_as_speaker": False,
        "is_followed_by_speaker": False, "is_new": True, "time_joined_as_speaker": None}}


async def test_a_client_reconnecting_with_its_last_timetoken_misses_nothing(
        client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    made = await start(ada)
    code, token = made["channel"], made["pubnub_token"]
    mine = channels_of(code, ada.user_id, speaker=True)
    cursor = await handshake(client, mine, token)
    # nobody is polling while these happen
    await join(bob, code)
    await bob.ok("audience_reply", {"channel": code, "raise_hands": True, "unraise_hands": False})
    await bob.ok("audience_reply", {"channel": code, "raise_hands": False, "unraise_hands": True})

    entries, _ = await collect(client, mine, cursor, token, 3)
    assert [(e["c"], e["d"]["action"]) for e in entries] == [
        (f"channel_all.{code}", "join_channel"), (f"channel_speakers.{code}", "raise_hands"),
        (f"channel_speakers.{code}", "unraise_hands")]
    assert entries[1]["d"]["user_profile"]["user_id"] == bob.user_id and entries[2]["d"]["user_id"] == bob.user_id
    timetokens = [int(e["p"]["t"]) for e in entries]
    assert timetokens == sorted(set(timetokens))
    # the same cursor again: the same messages (the ring keeps them)
    again, _ = await collect(client, mine, cursor, token, 3)
    assert again == entries


async def test_a_quiet_long_poll_ends_with_an_empty_envelope_and_a_fresh_cursor(
        quick: tuple[httpx.AsyncClient, PubNubGateway], people: People) -> None:
    http, _ = quick
    (ada,) = await people("Ada")
    made = await start(ada)
    mine = channels_of(made["channel"], ada.user_id, speaker=True)
    cursor = await handshake(http, mine, made["pubnub_token"])
    body = await poll(http, mine, cursor, made["pubnub_token"])
    assert body["m"] == [] and int(body["t"]["t"]) >= cursor


async def test_more_messages_than_one_answer_holds_come_over_several_polls(
        quick: tuple[httpx.AsyncClient, PubNubGateway], people: People) -> None:
    http, gateway = quick
    (ada,) = await people("Ada")
    made = await start(ada)
    two = [f"channel_all.{made['channel']}", f"users.{ada.user_id}"]
    cursor = await handshake(http, two, made["pubnub_token"])
    for number in range(MAX_BATCH + 20):  # each channel keeps its last RING_SIZE (100): all of these
        gateway.publish(two[number % 2], {"action": "bench", "number": number})
    first = await poll(http, two, cursor, made["pubnub_token"])
    second = await poll(http, two, int(first["t"]["t"]), made["pubnub_token"])
    numbers = [e["d"]["number"] for e in first["m"] + second["m"]]
    assert len(first["m"]) == MAX_BATCH and numbers == list(range(MAX_BATCH + 20))


async def test_a_channel_keeps_its_last_hundred_messages(
        quick: tuple[httpx.AsyncClient, PubNubGateway], people: People) -> None:
    http, gateway = quick
    (ada,) = await people("Ada")
    made = await start(ada)
    channel = f"channel_all.{made['channel']}"
    cursor = await handshake(http, [channel], made["pubnub_token"])
    for number in range(RING_SIZE + 5):
        gateway.publish(channel, {"action": "bench", "number": number})
    body = await poll(http, [channel], cursor, made["pubnub_token"])
    assert [e["d"]["number"] for e in body["m"]] == list(range(5, RING_SIZE + 5))


async def test_each_participant_reads_only_their_rooms_channels(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    made = await start(ada)
    code = made["channel"]
    other = (await start(bob))["channel"]
    await bob.ok("leave_channel", {"channel": other})  # bob's own room ends: he joins ada's
    token = (await join(bob, code))["pubnub_token"]
    listener = channels_of(code, bob.user_id, speaker=False)
    presence = [f"{c}-pnpres" for c in listener]
    assert await handshake(client, listener + presence, token)

    refused = [f"channel_speakers.{code}", f"channel_user.{code}.{ada.user_id}", f"users.{ada.user_id}",
               f"channel_all.{other}", f"channel_speakers.{code}-pnpres"]
    response = await client.get(subscribe_path(listener + refused, 0, token))
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden", "payload": {"channels": refused}, "error": True,
                               "service": "Access Manager", "status": 403}
    # the moderator reads the speakers' channel; nobody reads anything without a valid auth key
    assert await handshake(client, channels_of(code, ada.user_id, speaker=True), made["pubnub_token"])
    for auth in (None, "", "not-a-token", "x" * 500):
        response = await client.get(subscribe_path(listener, 0, auth))
        assert response.status_code == 403 and response.json()["payload"] == {"channels": listener}


async def test_a_listener_made_speaker_reads_the_speakers_channel_at_once(
        client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    code = (await start(ada))["channel"]
    token = (await join(bob, code))["pubnub_token"]
    assert await handshake(client, channels_of(code, bob.user_id, speaker=False), token)  # now cached
    await bob.ok("audience_reply", {"channel": code, "raise_hands": True, "unraise_hands": False})
    await ada.ok("invite_speaker", {"channel": code, "user_id": bob.user_id})
    accepted = await bob.ok("accept_speaker_invite", {"channel": code, "user_id": ada.user_id})
    # the key's listener grant is cached: a refusal is checked again, so it is not refused
    assert await handshake(client, channels_of(code, bob.user_id, speaker=True), accepted["pubnub_token"])


async def test_an_auth_key_stops_working_once_its_user_left_or_the_room_ended(
        client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people("Ada", "Bob")
    made = await start(ada)
    code = made["channel"]
    token = (await join(bob, code))["pubnub_token"]
    await bob.ok("leave_channel", {"channel": code})
    response = await client.get(subscribe_path([f"channel_all.{code}"], 0, token))
    assert response.status_code == 403
    await ada.ok("end_channel", {"channel": code})
    response = await client.get(subscribe_path([f"channel_all.{code}"], 0, made["pubnub_token"]))
    assert response.status_code == 403


async def test_an_auth_key_that_stops_granting_still_hears_what_ended_it_then_nothing(
        client: httpx.AsyncClient, people: People) -> None:
    ada, bob, cat = await people("Ada", "Bob", "Cat")
    made = await start(ada)
    code = made["channel"]
    bob_token = (await join(bob, code))["pubnub_token"]
    cat_token = (await join(cat, code))["pubnub_token"]
    bobs, cats = channels_of(code, bob.user_id, speaker=False), channels_of(code, cat.user_id, speaker=False)
    bob_cursor = await handshake(client, bobs, bob_token)
    cat_cursor = await handshake(client, cats, cat_token)

    await ada.ok("block_from_channel", {"channel": code, "user_id": bob.user_id})
    heard, bob_cursor = await collect(client, bobs, bob_cursor, bob_token, 2)
    assert sorted((e["c"], e["d"]["action"]) for e in heard) == [
        (f"channel_all.{code}", "leave_channel"), (f"channel_user.{code}.{bob.user_id}", "remove_from_channel")]
    assert [e["d"] for e in heard if e["d"]["action"] == "remove_from_channel"] == [{
        "action": "remove_from_channel", "channel": code, "from_user_id": ada.user_id, "user_id": bob.user_id,
        "is_blocked": True}]
    response = await asyncio.wait_for(client.get(subscribe_path(bobs, bob_cursor, bob_token)), BOUND)
    assert response.status_code == 403 and response.json()["payload"] == {"channels": bobs}

    await ada.ok("end_channel", {"channel": code})
    actions: list[str] = []
    while "end_channel" not in actions:
        heard, cat_cursor = await collect(client, cats, cat_cursor, cat_token, 1)
        actions += [e["d"]["action"] for e in heard]
    response = await asyncio.wait_for(client.get(subscribe_path(cats, cat_cursor, cat_token)), BOUND)
    assert response.status_code == 403
    response = await client.get(subscribe_path(cats, 0, cat_token))  # no new start either
    assert response.status_code == 403


async def test_a_removed_user_polling_late_reads_nothing_published_after_the_removal(
        quick: tuple[httpx.AsyncClient, PubNubGateway], people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pubnub_gateway, "REVOKED_GRACE_S", 0.1)  # the removal's messages come within it
    http, _ = quick
    ada, bob, cat = await people("Ada", "Bob", "Cat")
    made = await start(ada)
    code = made["channel"]
    bob_token = (await join(bob, code))["pubnub_token"]
    bobs = channels_of(code, bob.user_id, speaker=False)
    bob_cursor = await handshake(http, bobs, bob_token)
    ada_cursor = await handshake(http, channels_of(code, ada.user_id, speaker=True), made["pubnub_token"])

    await ada.ok("block_from_channel", {"channel": code, "user_id": bob.user_id})
    await asyncio.sleep(1.0)  # well past the grace: the room goes on while bob does not poll
    await join(cat, code)
    await ada.ok("change_handraise_settings", {"channel": code, "is_enabled": False, "handraise_permission": 1})
    actions: list[str] = []
    while "change_handraise_settings" not in actions:  # the gateway has had every event
        heard, ada_cursor = await collect(http, channels_of(code, ada.user_id, speaker=True), ada_cursor,
                                          made["pubnub_token"], 1)
        actions += [e["d"]["action"] for e in heard]

    heard, bob_cursor = await collect(http, bobs, bob_cursor, bob_token, 1)
    assert sorted(e["d"]["action"] for e in heard) == ["leave_channel", "remove_from_channel"]
    response = await asyncio.wait_for(http.get(subscribe_path(bobs, bob_cursor, bob_token)), BOUND)
    assert response.status_code == 403


async def test_a_key_whose_revoking_event_is_unknown_is_refused_outright(
        container: Container, people: People) -> None:
    gateway = PubNubGateway(container)  # not started: it hears of no event
    ada, bob = await people("Ada", "Bob")
    made = await start(ada)
    token = (await join(bob, made["channel"]))["pubnub_token"]
    assert await gateway.grant(token) is not None
    await bob.ok("leave_channel", {"channel": made["channel"]})
    assert await gateway.grant(token, fresh=True) is None  # (the TTL ran out, say)
    access = await gateway.access(token, [f"channel_all.{made['channel']}"])
    assert access.refused == [f"channel_all.{made['channel']}"] and access.until is None


async def test_a_cursor_ahead_of_the_clock_cannot_push_the_timetokens_forward(container: Container) -> None:
    gateway = PubNubGateway(container)
    ahead = pubnub_gateway.wall_timetoken() + 300 * 10**7  # five minutes
    cursor, messages = await gateway.poll(["channel_all.x"], ahead, 0.0)
    assert messages == [] and cursor < ahead
    assert gateway.publish("channel_all.x", {"action": "x"}) < ahead


async def test_a_cached_grant_is_dropped_when_an_event_changes_its_users_standing(
        container: Container, people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pubnub_gateway, "GRANT_TTL_S", 3600.0)
    gateway = PubNubGateway(container)  # not started: it hears of events only from this test
    ada, bob = await people("Ada", "Bob")
    made = await start(ada)
    token = (await join(bob, made["channel"]))["pubnub_token"]
    grant = await gateway.grant(token)
    assert grant is not None and grant.user_id == bob.user_id
    await bob.ok("leave_channel", {"channel": made["channel"]})
    assert await gateway.grant(token) is grant  # cached...
    assert await gateway.grant(token, fresh=True) is None
    assert await gateway.grant(token) is None  # ...and the fresh answer is what is cached now
    token = (await join(bob, made["channel"]))["pubnub_token"]
    grant = await gateway.grant(token)
    assert grant is not None
    await bob.ok("leave_channel", {"channel": made["channel"]})

    async def left(user_id: int) -> None:
        await gateway.on_event(UserLeft(topic=room_topic(grant.room_id), room_id=grant.room_id,
                                        channel=made["channel"], user_id=user_id))

    await left(ada.user_id + bob.user_id)
    assert await gateway.grant(token) is grant  # someone else's leaving changes nothing for bob
    await left(bob.user_id)
    assert await gateway.grant(token) is None  # his own does


async def test_personal_events_reach_the_users_own_channels(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, cat = await people("Ada", "Bob", "Cat")
    code = (await start(ada))["channel"]
    bob_token = (await join(bob, code))["pubnub_token"]
    bobs = channels_of(code, bob.user_id, speaker=False)
    cursor = await handshake(client, bobs, bob_token)
    await ada.ok("invite_speaker", {"channel": code, "user_id": bob.user_id})
    await ada.ok("uninvite_speaker", {"channel": code, "user_id": bob.user_id})
    entries, _ = await collect(client, bobs, cursor, bob_token, 2)
    assert [(e["c"], e["d"]) for e in entries] == [
        (f"channel_user.{code}.{bob.user_id}", {"action": "invite_speaker", "channel": code,
                                                "from_user_id": ada.user_id, "from_name": "Ada"}),
        (f"channel_user.{code}.{bob.user_id}", {"action": "uninvite_speaker", "channel": code,
                                                "from_user_id": ada.user_id})]
    # an invitation to a room reaches users.<uid> of someone in another room
    cat_room = await start(cat)
    cats = channels_of(cat_room["channel"], cat.user_id, speaker=True)
    cursor = await handshake(client, cats, cat_room["pubnub_token"])
    invited = await ada.ok("invite_to_existing_channel", {"channel": code, "user_id": cat.user_id})
    entries, _ = await collect(client, cats, cursor, cat_room["pubnub_token"], 1)
    assert entries[0]["c"] == f"users.{cat.user_id}" and entries[0]["d"] == {
        "action": "invite_to_existing_channel", "channel": code, "channel_invite_id": invited["channel_invite_id"],
        "from_user_id": ada.user_id, "from_name": "Ada"}


async def test_heartbeat_and_leave_answer_like_pubnub_presence(client: httpx.AsyncClient, people: People) -> None:
    (ada,) = await people("Ada")
    made = await start(ada)
    mine = ",".join(channels_of(made["channel"], ada.user_id, speaker=True))
    base = f"/v2/presence/sub-key/{SUB_KEY}/channel"
    response = await client.get(f"{base}/{mine}/heartbeat", params={"heartbeat": 60, "uuid": "u",
                                                                     "auth": made["pubnub_token"]})
    assert response.status_code == 200
    assert response.json() == {"status": 200, "message": "OK", "service": "Presence"}
    response = await client.get(f"{base}/users.1,{mine}/heartbeat", params={"auth": made["pubnub_token"]})
    assert response.status_code == 403 and response.json()["payload"] == {"channels": ["users.1"]}
    response = await client.get(f"{base}/{mine}/leave", params={"uuid": "u"})
    assert response.status_code == 200
    assert response.json() == {"status": 200, "message": "OK", "action": "leave", "service": "Presence"}


async def test_bad_requests_get_pubnub_errors(client: httpx.AsyncClient, people: People) -> None:
    (ada,) = await people("Ada")
    made = await start(ada)
    mine = channels_of(made["channel"], ada.user_id, speaker=True)
    token = made["pubnub_token"]
    for tt in ("abc", "-1", "1" * 30, "1.5"):
        response = await client.get(subscribe_path(mine, tt, token))
        assert response.status_code == 400, tt
        assert response.json() == {"message": "Invalid Timetoken", "error": True, "service": "Balancer",
                                   "status": 400}
    response = await client.get(subscribe_path(mine, 0, token, **{"channel-group": "cg1,cg2"}))
    assert response.status_code == 403 and response.json()["payload"] == {"channel-groups": ["cg1", "cg2"]}
    response = await client.get(f"/v2/subscribe/{SUB_KEY}/,/0", params={"tt": 0, "auth": token})
    assert response.status_code == 400 and response.json()["error"] is True
    response = await client.get(subscribe_path([f"c{i}" for i in range(60)], 0, token))
    assert response.status_code == 400 and response.json()["error"] is True
    for path in (f"/v2/subscribe/{SUB_KEY}/a/1", f"/v2/presence/sub-key/{SUB_KEY}/channel/a", "/time/1"):
        response = await client.get(path)
        assert response.status_code == 404 and response.json()["status"] == 404, path
    response = await client.post("/time/0")
    assert response.status_code == 405 and response.json()["error"] is True
    # far in the future: a fresh cursor at once rather than a wait for nothing
    body = (await client.get(subscribe_path(mine, 9 * 10**18, token))).json()
    assert body["m"] == [] and int(body["t"]["t"]) < 9 * 10**18
    # the rest of the root still belongs to the chat surface
    assert (await client.get("/v2/publish/x/y/0/z/0")).status_code != 200


@pytest.fixture
async def two_processes(settings: Settings, migrated_db_url: str, redis_url: str,
                        ) -> AsyncIterator[tuple[FastAPI, FastAPI, Container]]:
    """Two apps (as two processes) on one database, their event buses on one Redis."""
    shared = settings.model_copy(update={"redis_url": redis_url})
    containers = [Container.build(shared) for _ in range(2)]
    apps = [create_app(shared, c) for c in containers]
    for c in containers:
        await c.start()
    try:
        async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
            for c in containers:
                await c.bus.ready()
            yield apps[0], apps[1], containers[0]
    finally:
        for c in containers:
            await c.close()


async def test_room_events_reach_subscribers_of_another_process_over_redis(
        two_processes: tuple[FastAPI, FastAPI, Container]) -> None:
    first, second, container = two_processes
    ada = await sign_in_person(first, container, "Ada")
    bob = await sign_in_person(first, container, "Bob")
    try:
        made = await start(ada)
        code = made["channel"]
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://second.test") as other:
            mine = channels_of(code, ada.user_id, speaker=True)
            cursor = await handshake(other, mine, made["pubnub_token"])
            await join(bob, code)  # through the first process
            entries, _ = await collect(other, mine, cursor, made["pubnub_token"], 1)
        assert entries[0]["d"]["action"] == "join_channel"
        assert entries[0]["d"]["user_profile"]["user_id"] == bob.user_id
    finally:
        await ada.http.aclose()
        await bob.http.aclose()
