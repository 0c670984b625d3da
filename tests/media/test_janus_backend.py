"""The janus media backend against a real Janus started from the shipped configuration.

Participants here join with signalling only (no WebRTC): AudioBridge treats them as members of the
room, which is all that presence, mute and kick need. Real audio: test_janus_audio.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.media.conftest import StartJanus, make_backend
from tests.media.janus_secrets import api_secret_of
from townhall.media import MediaError, MediaEvent, MediaRoomNotFound, MediaUnavailable
from townhall.media.janus import JanusClient, JanusMediaBackend
from townhall.media.janus_server import JanusServer, free_port


def query_of(connection_url: str) -> dict[str, str]:
    scheme, _, rest = connection_url.partition(":")
    assert scheme == "janus"
    return {key: values[0] for key, values in parse_qs(urlsplit(rest).query).items()}


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def recorder(backend: JanusMediaBackend) -> list[MediaEvent]:
    events: list[MediaEvent] = []

    async def record(event: MediaEvent) -> None:
        events.append(event)

    backend.on_event(record)
    return events


@dataclass
class BareParticipant:
    """A signalling-only AudioBridge participant joined with townhall's credentials."""

    client: JanusClient
    session: int
    handle: int
    joined: dict[str, Any]

    async def request(self, body: dict[str, Any]) -> None:
        await self.client.message(self.session, self.handle, body)

    async def leave(self) -> None:
        await self.client.message(self.session, self.handle, {"request": "leave"})

    async def close(self) -> None:
        try:
            await self.client.destroy_session(self.session)
        except MediaError:
            pass
        await self.client.close()


async def join_bare(url: str, connection_url: str, **overrides: Any) -> BareParticipant:
    query = query_of(connection_url)
    client = JanusClient(url, api_secret=api_secret_of(url))  # direct mode (the proxy's tests: test_janus_proxy)
    session = await client.create_session()
    handle = await client.attach(session)
    body = {
        "request": "join", "room": int(query["room"]), "pin": query["pin"], "id": int(query["id"]),
        "display": query["display"], "token": query["token"], "muted": query["muted"] == "true", **overrides,
    }
    await client.message(session, handle, body)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in await client.poll(session):
            data = event.get("plugindata", {}).get("data", {})
            if event.get("sender") == handle and ("error_code" in data or data.get("audiobridge") == "joined"):
                participant = BareParticipant(client, session, handle, data)
                if "error_code" in data:
                    await participant.close()
                return participant
    await client.close()
    raise AssertionError("no answer to join")


async def test_the_shipped_config_loads_only_the_http_transport_and_the_audio_plugins(janus: JanusServer) -> None:
    info = httpx.get(f"{janus.read_state()['url']}/info", timeout=5).json()
    assert set(info["plugins"]) == {"janus.plugin.audiobridge", "janus.plugin.streaming"}
    assert set(info["transports"]) == {"janus.transport.http"}
    assert info["server-name"] == "townhall-janus"
    config = (janus.folder / "janus.transport.http.jcfg").read_text()
    assert 'ip = "127.0.0.1"' in config and 'admin_ip = "127.0.0.1"' in config
    assert "stun_server" not in (janus.folder / "janus.jcfg").read_text()


async def test_rooms_cannot_be_created_without_the_admin_key(janus: JanusServer) -> None:
    client = JanusClient(janus.read_state()["url"], api_secret=janus.read_state()["api_secret"])
    try:
        session = await client.create_session()
        handle = await client.attach(session)
        with pytest.raises(MediaError) as caught:
            await client.message(session, handle, {"request": "create", "room": 42})
        assert caught.value.code in (483, 489)
    finally:
        await client.close()


async def test_a_room_is_created_once_and_destroying_it_twice_is_fine(backend: JanusMediaBackend, room_id: str) -> None:
    first = await backend.create_room(room_id)
    again = await backend.create_room(room_id)
    assert first == again
    assert first.media_room == str(backend.room_number(room_id))
    assert await backend.participants(room_id) == []
    await backend.destroy_room(room_id)
    await backend.destroy_room(room_id)
    with pytest.raises(MediaRoomNotFound) as caught:
        await backend.participants(room_id)
    assert caught.value.code == 485


async def test_credentials_name_the_server_room_pin_participant_and_a_per_user_token(
    backend: JanusMediaBackend, room_id: str
) -> None:
    await backend.create_room(room_id)
    speaker = await backend.credentials(room_id, "alice", can_publish=True)
    listener = await backend.credentials(room_id, "bob", can_publish=False)
    assert speaker.server_url == backend.url and speaker.connection_url.startswith(f"janus:{backend.url}?")
    query = query_of(speaker.connection_url)
    assert query == {
        "room": speaker.media_room, "pin": speaker.pin, "id": str(backend.participant_id("alice")),
        "display": speaker.extra["display"], "token": speaker.token, "muted": "false",
    }
    assert query_of(listener.connection_url)["muted"] == "true"
    assert speaker.token != listener.token and speaker.pin == listener.pin
    # Another process with the same secret derives the same credentials (no shared state needed).
    other = make_backend_like(backend)
    assert (await other.credentials(room_id, "alice", can_publish=True)).connection_url == speaker.connection_url
    await other.close()


def make_backend_like(backend: JanusMediaBackend, **options: Any) -> JanusMediaBackend:
    options.setdefault("secret", backend._secret.decode())
    options.setdefault("api_secret", api_secret_of(backend.url))
    return JanusMediaBackend(backend.url, admin_key=backend._admin_key, **options)


async def test_room_numbers_participant_ids_and_names_are_secret_yet_the_same_in_every_process(
    backend: JanusMediaBackend, room_id: str
) -> None:
    import hashlib

    same, stranger = make_backend_like(backend), make_backend_like(backend, secret="another-secret")
    plain = 2**32 + int.from_bytes(hashlib.sha256(f"townhall-media:room:{room_id}".encode()).digest()[:8], "big") % (
        2**53 - 2**32)
    assert backend.room_number(room_id) == same.room_number(room_id) != stranger.room_number(room_id)
    assert backend.room_number(room_id) != plain  # no longer computable from the room id alone
    assert backend.participant_id("alice") == same.participant_id("alice") != stranger.participant_id("alice")
    await backend.create_room(room_id)
    credentials = await backend.credentials(room_id, "alice", can_publish=True)
    display = query_of(credentials.connection_url)["display"]
    assert "alice" not in display and display == same.seal_display("alice") != stranger.seal_display("alice")
    assert same.open_display(backend.participant_id("alice"), display) == "alice"
    assert stranger.open_display(stranger.participant_id("alice"), display) is None
    assert same.open_display(backend.participant_id("bob"), display) is None  # bound to its participant id
    alice = await join_bare(backend.url, credentials.connection_url)
    try:  # what any client of Janus can ask: the opaque display, never the user id
        answer = await alice.client.message(alice.session, alice.handle, {
            "request": "listparticipants", "room": int(credentials.media_room)})
        assert answer is not None and "alice" not in json.dumps(answer)
        assert [p.user_id for p in await same.participants(room_id)] == ["alice"]
    finally:
        await alice.close()
        await same.close()
        await stranger.close()


async def test_a_client_joining_with_its_credentials_is_a_participant_and_a_join_event_is_emitted(
    backend: JanusMediaBackend, room_id: str
) -> None:
    events = recorder(backend)
    await backend.create_room(room_id)
    credentials = await backend.credentials(room_id, "alice", can_publish=True)
    alice = await join_bare(backend.url, credentials.connection_url)
    try:
        assert alice.joined.get("id") == int(credentials.participant_id)
        await eventually(lambda: MediaEvent("joined", room_id, "alice") in events, what="joined event")
        [participant] = await backend.participants(room_id)
        assert participant.user_id == "alice" and participant.muted is False and participant.connected is False
        await alice.leave()
        await eventually(lambda: MediaEvent("left", room_id, "alice", voluntary=False) in events, what="left event")
        assert await backend.participants(room_id) == []
    finally:
        await alice.close()


async def test_a_wrong_pin_or_token_is_refused(backend: JanusMediaBackend, room_id: str) -> None:
    await backend.create_room(room_id)
    credentials = await backend.credentials(room_id, "alice", can_publish=True)
    wrong_pin = await join_bare(backend.url, credentials.connection_url, pin="nope")
    assert wrong_pin.joined.get("error_code") == 489
    wrong_token = await join_bare(backend.url, credentials.connection_url, token=secrets.token_hex(16))
    assert wrong_token.joined.get("error_code") == 489
    assert await backend.participants(room_id) == []


async def test_listeners_join_muted_and_set_publish_unmutes_and_mutes_them(
    backend: JanusMediaBackend, room_id: str
) -> None:
    await backend.create_room(room_id)
    bob = await join_bare(backend.url, (await backend.credentials(room_id, "bob", can_publish=False)).connection_url)
    try:
        assert [p.muted for p in await backend.participants(room_id)] == [True]
        await backend.set_publish(room_id, "bob", True)
        assert [p.muted for p in await backend.participants(room_id)] == [False]
        await backend.set_publish(room_id, "bob", False)
        assert [p.muted for p in await backend.participants(room_id)] == [True]
    finally:
        await bob.close()


async def test_set_publish_for_someone_not_connected_is_remembered_for_their_next_credentials(
    backend: JanusMediaBackend, room_id: str
) -> None:
    await backend.create_room(room_id)
    await backend.set_publish(room_id, "carol", True)  # not in the room: no error
    credentials = await backend.credentials(room_id, "carol", can_publish=True)
    carol = await join_bare(backend.url, credentials.connection_url)
    try:
        assert [(p.user_id, p.muted) for p in await backend.participants(room_id)] == [("carol", False)]
    finally:
        await carol.close()


async def test_a_listener_who_unmutes_himself_is_muted_again(backend: JanusMediaBackend, room_id: str) -> None:
    await backend.create_room(room_id)
    bob = await join_bare(backend.url, (await backend.credentials(room_id, "bob", can_publish=False)).connection_url)
    try:
        await bob.request({"request": "configure", "muted": False})

        async def muted() -> bool:
            return [p.muted for p in await backend.participants(room_id)] == [True]

        await asyncio.sleep(0.3)
        await eventually(muted, what="bob muted again")
    finally:
        await bob.close()


async def test_kick_removes_the_participant_and_their_credentials_stop_working(
    backend: JanusMediaBackend, room_id: str
) -> None:
    events = recorder(backend)
    await backend.create_room(room_id)
    credentials = await backend.credentials(room_id, "mallory", can_publish=True)
    mallory = await join_bare(backend.url, credentials.connection_url)
    try:
        await eventually(lambda: MediaEvent("joined", room_id, "mallory") in events, what="joined")
        await backend.kick(room_id, "mallory")
        await eventually(lambda: MediaEvent("left", room_id, "mallory", voluntary=False) in events,
                         what="left after kick (not of their own accord)")

        async def gone() -> bool:
            return await backend.participants(room_id) == []

        await eventually(gone, what="mallory gone")
    finally:
        await mallory.close()
    again = await join_bare(backend.url, credentials.connection_url)
    assert again.joined.get("error_code") == 489
    await backend.kick(room_id, "mallory")  # kicking someone absent is not an error


async def test_destroying_a_room_reports_everyone_as_left(backend: JanusMediaBackend, room_id: str) -> None:
    events = recorder(backend)
    await backend.create_room(room_id)
    people = [
        await join_bare(backend.url, (await backend.credentials(room_id, user, can_publish=False)).connection_url)
        for user in ("u1", "u2")
    ]
    try:
        await eventually(lambda: len([e for e in events if e.kind == "joined"]) == 2, what="two joins")
        await backend.destroy_room(room_id)
        assert sorted(e.user_id for e in events if e.kind == "left") == ["u1", "u2"]
    finally:
        for person in people:
            await person.close()


async def test_operations_on_an_unknown_room_raise_media_room_not_found(backend: JanusMediaBackend) -> None:
    for call in (
        backend.credentials("never-created", "alice", can_publish=True),
        backend.set_publish("never-created", "alice", True),
        backend.kick("never-created", "alice"),
        backend.participants("never-created"),
        backend.watch("never-created"),
    ):
        with pytest.raises(MediaRoomNotFound) as caught:
            await call
        assert caught.value.code == 485


async def test_another_process_with_the_same_secret_can_mute_and_kick_in_a_room_it_did_not_create(
    backend: JanusMediaBackend, room_id: str
) -> None:
    await backend.create_room(room_id)
    alice = await join_bare(backend.url, (await backend.credentials(room_id, "alice", can_publish=True)).connection_url)
    other = make_backend_like(backend, may_publish=lambda room, user: user == "alice")  # shared state: a speaker
    try:
        events = recorder(other)
        await other.start()
        await other.watch(room_id)
        await eventually(lambda: MediaEvent("joined", room_id, "alice") in events, what="other sees alice")
        await other.set_publish(room_id, "alice", False)
        assert [p.muted for p in await backend.participants(room_id)] == [True]
        await other.kick(room_id, "alice")
        await eventually(lambda: MediaEvent("left", room_id, "alice") in events, what="other sees alice leave")
    finally:
        await other.close()
        await alice.close()


async def test_a_janus_that_is_down_gives_a_clear_media_unavailable_error() -> None:
    backend = JanusMediaBackend(f"http://127.0.0.1:{free_port()}/janus", admin_key="k", secret="s", timeout=2.0)
    await backend.start()  # does not fail: Janus may come up later
    try:
        with pytest.raises(MediaUnavailable) as caught:
            await backend.create_room("r")
        assert "unreachable" in str(caught.value) and caught.value.code is None
    finally:
        await backend.close()


async def test_a_wrong_admin_key_is_a_media_error_with_the_janus_code(janus: JanusServer) -> None:
    state = janus.read_state()
    backend = JanusMediaBackend(state["url"], admin_key="wrong", secret="s", timeout=5.0,
                                api_secret=state["api_secret"])
    await backend.start()
    try:
        with pytest.raises(MediaError) as caught:
            await backend.create_room("r")
        assert caught.value.code == 489
    finally:
        await backend.close()


async def test_the_backend_recovers_its_session_and_rooms_after_janus_restarts(start_janus: StartJanus) -> None:
    server = start_janus()
    backend = make_backend(server)
    events = recorder(backend)
    await backend.start()
    try:
        await backend.create_room("survivor")
        credentials = await backend.credentials("survivor", "alice", can_publish=True)
        alice = await join_bare(backend.url, credentials.connection_url)
        await eventually(lambda: MediaEvent("joined", "survivor", "alice") in events, what="alice joined")
        await alice.client.close()

        state = server.read_state()
        server.stop()
        with pytest.raises(MediaUnavailable):  # while Janus is down: a clear error, not a hang
            await backend.participants("survivor")
        server.start(loopback_ice=True, http_port=state["http_port"], admin_port=state["admin_port"])
        await eventually(lambda: backend.recoveries >= 1, timeout=20, what="a new Janus session")
        await eventually(lambda: MediaEvent("left", "survivor", "alice") in events, what="alice reported gone")
        # The room exists again with the same pin and the tokens issued before the restart.
        alice = await join_bare(backend.url, credentials.connection_url)
        try:
            assert alice.joined.get("audiobridge") == "joined"
            assert [p.user_id for p in await backend.participants("survivor")] == ["alice"]
        finally:
            await alice.close()
    finally:
        await backend.close()


async def test_user_and_room_ids_with_any_characters_round_trip(backend: JanusMediaBackend) -> None:
    room_id, user_id = "community:0xAbC/ü?&=", "0xAbC:ü/?&=#"
    await backend.create_room(room_id)
    credentials = await backend.credentials(room_id, user_id, can_publish=False)
    person = await join_bare(backend.url, credentials.connection_url)
    try:
        assert [p.user_id for p in await backend.participants(room_id)] == [user_id]
        # A backend that never saw this user learns the id from the display name Janus reports.
        other = make_backend_like(backend)
        assert [p.user_id for p in await other.participants(room_id)] == [user_id]
        await other.close()
    finally:
        await person.close()
        await backend.destroy_room(room_id)


async def test_creating_the_same_room_concurrently_makes_one_room_with_one_monitor(
    backend: JanusMediaBackend, room_id: str
) -> None:
    rooms = await asyncio.gather(*(backend.create_room(room_id) for _ in range(5)))
    assert len(set(rooms)) == 1

    async def everyone() -> list[dict[str, Any]]:  # monitors included (participants() hides them)
        answer = await backend._request({"request": "listparticipants", "room": int(rooms[0].media_room)})
        return list(answer["participants"])

    await eventually(everyone, what="the monitor joined")  # its join is asynchronous
    await asyncio.sleep(0.3)
    assert len(await everyone()) == 1
    assert await backend.participants(room_id) == []


async def test_a_backend_started_before_janus_connects_once_janus_is_up(start_janus: StartJanus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "late-janus"
    http_port, admin_port = free_port(), free_port()
    state = JanusServer(folder).render_config(http_port=http_port, admin_port=admin_port)
    backend = JanusMediaBackend(state["url"], admin_key=state["admin_key"], secret="s", timeout=5.0, retry_interval=0.1,
                                api_secret=state["api_secret"])
    await backend.start()  # nothing listens yet: no error
    try:
        start_janus(folder, http_port=http_port, admin_port=admin_port)
        await eventually(lambda: backend._session is not None, what="the backend connected")
        assert (await backend.create_room("late")).backend == "janus"
    finally:
        await backend.close()


class RoomState:
    """Stands for the rooms core's answers from the database: shared by every process."""

    def __init__(self, speakers: set[str], removed: set[str] = set()) -> None:
        self.speakers, self.removed = set(speakers), set(removed)

    async def may_publish(self, room_id: str, user_id: str) -> bool:
        return user_id in self.speakers

    def may_join(self, room_id: str, user_id: str) -> bool:
        return user_id not in self.removed


async def muted_of(backend: JanusMediaBackend, room_id: str) -> dict[str, bool]:
    return {p.user_id: p.muted for p in await backend.participants(room_id)}


async def test_a_listener_who_unmutes_is_muted_by_a_process_that_never_saw_his_credentials(
    backend: JanusMediaBackend, room_id: str
) -> None:
    await backend.create_room(room_id)
    alice_credentials = await backend.credentials(room_id, "alice", can_publish=True)
    bob_credentials = await backend.credentials(room_id, "bob", can_publish=False)
    await backend.close()  # the process that created the room and issued credentials is gone
    state = RoomState(speakers={"alice"})
    other = make_backend_like(backend, may_publish=state.may_publish, sweep_interval=0)
    alice = await join_bare(other.url, alice_credentials.connection_url)
    bob = await join_bare(other.url, bob_credentials.connection_url)
    try:
        await other.start()
        await other.watch(room_id)  # what the rooms core calls at start-up for its live rooms
        await bob.request({"request": "configure", "muted": False})
        await asyncio.sleep(0.3)

        async def bob_muted_alice_heard() -> bool:
            return await muted_of(other, room_id) == {"alice": False, "bob": True}

        await eventually(bob_muted_alice_heard, what="bob muted again, alice still heard")
    finally:
        await alice.close()
        await bob.close()
        await other.destroy_room(room_id)
        await other.close()


async def test_the_sweep_mutes_whoever_room_state_no_longer_lets_publish(janus: JanusServer, room_id: str) -> None:
    state = RoomState(speakers={"alice"})
    backend = make_backend(janus)
    backend.set_access(may_publish=state.may_publish)
    backend._sweep_interval = 0.2
    await backend.start()
    try:
        await backend.create_room(room_id)
        alice = await join_bare(backend.url, (await backend.credentials(room_id, "alice", can_publish=True)).connection_url)
        try:
            await eventually(lambda: "alice" in backend._rooms[room_id].present, what="alice seen")
            assert await muted_of(backend, room_id) == {"alice": False}
            state.speakers.clear()  # demoted by another process whose mute request was lost: no Janus event

            async def alice_muted() -> bool:
                return await muted_of(backend, room_id) == {"alice": True}

            await eventually(alice_muted, what="the sweep muted alice")
        finally:
            await alice.close()
    finally:
        await backend.close()


async def test_someone_the_room_does_not_admit_is_kicked_even_with_credentials_janus_still_accepts(
    backend: JanusMediaBackend, room_id: str
) -> None:
    state = RoomState(speakers={"mallory"}, removed={"mallory"})
    backend.set_access(may_join=state.may_join, may_publish=state.may_publish)
    events = recorder(backend)
    await backend.create_room(room_id)
    alice = await join_bare(backend.url, (await backend.credentials(room_id, "alice", can_publish=False)).connection_url)
    mallory = await join_bare(backend.url, (await backend.credentials(room_id, "mallory", can_publish=True)).connection_url)
    try:
        assert mallory.joined.get("audiobridge") == "joined"  # her token was still on the allowed list

        async def only_alice() -> bool:
            return [p.user_id for p in await backend.participants(room_id)] == ["alice"]

        await eventually(only_alice, what="mallory kicked")
        await asyncio.sleep(0.2)
        assert [e.user_id for e in events if e.kind == "joined"] == ["alice"]
    finally:
        await alice.close()
        await mallory.close()


def test_settings_give_the_janus_backend_its_sweep_interval_and_a_derived_media_secret() -> None:
    from townhall.config import MediaSettings, Settings
    from townhall.media import create_media_backend

    media = MediaSettings(backend="janus", janus_url="http://127.0.0.1:1/janus", janus_admin_key="k",
                          janus_sweep_interval=2.5)
    built = create_media_backend(Settings(media=media), "chat-secret")
    again = create_media_backend(Settings(media=media), "chat-secret")
    other_install = create_media_backend(Settings(media=media), "another-chat-secret")
    assert isinstance(built, JanusMediaBackend) and built._sweep_interval == 2.5
    assert MediaSettings().janus_sweep_interval == 15.0
    assert built.room_number("r") == again.room_number("r") != other_install.room_number("r")
