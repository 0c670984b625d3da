"""The Janus signalling proxy (``/media/janus``) against a real Janus and a real townhall server.

Why it exists: AudioBridge does not bind a join token to the participant id a client claims, and ids
are visible to the whole room, so a client with direct access to Janus could re-join as someone else.
Here Janus demands an api secret only townhall knows; clients get a signed ticket as their token and
signal through townhall (uvicorn on a free port, in this process), which checks the ticket and puts
the ticket's id, display, room, pin, token and muted into the join whatever the client claimed.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.media.serving import serving
from tests.media.test_janus_audio import HEARD, JOIN_TIMEOUT, SILENT
from tests.media.test_janus_backend import eventually, query_of
from townhall.app import create_app
from townhall.config import MediaSettings, Settings
from townhall.container import Container
from townhall.media import create_media_backend
from townhall.media.janus import JanusMediaBackend
from townhall.media.janus_server import JanusServer, free_port
from townhall.media.janus_tickets import Refused, Tickets, admit


@pytest.fixture(scope="module")
async def served(janus: JanusServer, settings: Settings, migrated_db_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, JanusMediaBackend]]:
    """townhall served by uvicorn on 127.0.0.1:<free port>, its media backend the Janus one in proxy
    mode (the default when no janus_public_url is set); yields (the proxy URL, the backend)."""
    state = janus.read_state()
    port = free_port()
    configured = settings.model_copy(update={
        "host": "127.0.0.1", "port": port, "public_url": None, "data_dir": tmp_path_factory.mktemp("proxy-data"),
        "media": MediaSettings(backend="janus", janus_url=state["url"], janus_admin_key=state["admin_key"],
                               janus_api_secret=state["api_secret"], secret="proxy-test-secret",
                               janus_sweep_interval=0)})
    container = Container.build(configured)
    backend = container.media
    assert isinstance(backend, JanusMediaBackend)
    await container.start()
    # lifespan off: the surfaces' runtime (room access checks from the database) is not under test;
    # the backend answers may_publish from the credentials it gave.
    try:
        async with serving(create_app(configured, container), port) as base_url:
            yield f"{base_url}/media/janus", backend
    finally:
        await container.close()


class Raw:
    """Plain Janus HTTP requests to a URL (the proxy or Janus), answers as they come."""

    def __init__(self, url: str, apisecret: str | None = None) -> None:
        self.url, self.apisecret = url, apisecret
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=40.0))

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6)}
        if self.apisecret:
            body["apisecret"] = self.apisecret
        return dict((await self.http.post(f"{self.url}{path}", json=body)).json())

    async def handle(self, plugin: str = "janus.plugin.audiobridge") -> tuple[int, int]:
        session = (await self.post("", {"janus": "create"}))["data"]["id"]
        attached = await self.post(f"/{session}", {"janus": "attach", "plugin": plugin})
        return session, attached["data"]["id"]

    async def plugin_answer(self, session: int, handle: int, body: dict[str, Any]) -> dict[str, Any]:
        """A message's answer: the synchronous error, or the event the long-poll brings for it."""
        sent = await self.post(f"/{session}/{handle}", {"janus": "message", "body": body})
        if sent.get("janus") != "ack":
            return sent
        for _ in range(20):
            polled = (await self.http.get(f"{self.url}/{session}", params={"maxev": 10})).json()
            for event in polled if isinstance(polled, list) else [polled]:
                if event.get("sender") == handle and event.get("plugindata"):
                    return dict(event)
        raise AssertionError("no answer")

    async def close(self) -> None:
        await self.http.aclose()


def refused(answer: dict[str, Any], *words: str) -> bool:
    error = answer.get("error", {})
    return answer.get("janus") == "error" and error.get("code") == 403 and all(w in error["reason"] for w in words)


async def test_clients_get_the_proxy_and_a_ticket_and_are_heard_through_it(
    served: tuple[str, JanusMediaBackend], sounds: dict[str, str], room_id: str
) -> None:
    from tests.media.audio_client import AudioClient

    proxy, backend = served
    await backend.create_room(room_id)
    speaking = await backend.credentials(room_id, "speaker", can_publish=True)
    listening = await backend.credentials(room_id, "listener", can_publish=False)
    assert speaking.server_url == proxy and speaking.connection_url.startswith(f"janus:{proxy}?")
    assert query_of(speaking.connection_url)["token"] == speaking.token and speaking.token.startswith("tt1.")
    assert speaking.token != backend.user_token(room_id, "speaker")  # the real token stays inside the ticket
    clients = [AudioClient(listening.connection_url), AudioClient(speaking.connection_url, send_wav=sounds["tone"])]
    try:
        for client in clients:  # no api secret: everything goes through townhall
            await asyncio.wait_for(client.join(), JOIN_TIMEOUT)
        await asyncio.sleep(1.5)
        assert await clients[0].measure(2.0) > HEARD
        assert [(p.user_id, p.muted) for p in await backend.participants(room_id)] == [
            ("listener", True), ("speaker", False)]
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in clients), return_exceptions=True)


async def test_a_participant_cannot_rejoin_under_another_ones_id(
    served: tuple[str, JanusMediaBackend], sounds: dict[str, str], room_id: str
) -> None:
    """mallory learns bob's id and display from the room's events, then joins claiming them with her
    own ticket: she is in the room as mallory (muted, as her ticket says), never as bob."""
    from tests.media.audio_client import AudioClient

    proxy, backend = served
    await backend.create_room(room_id)
    bob = AudioClient((await backend.credentials(room_id, "bob", can_publish=True)).connection_url)
    mallory_url = (await backend.credentials(room_id, "mallory", can_publish=False)).connection_url
    watcher = AudioClient(mallory_url)
    attacker = AudioClient(mallory_url, send_wav=sounds["tone"])
    listener = AudioClient((await backend.credentials(room_id, "listener", can_publish=False)).connection_url)
    try:
        await asyncio.wait_for(bob.join(), JOIN_TIMEOUT)
        joined = await asyncio.wait_for(watcher.join(), JOIN_TIMEOUT)
        seen = [p for p in joined["plugindata"]["data"]["participants"] if p["id"] == int(bob.params["id"])]
        assert seen, "the room tells every participant the others' ids"
        await bob.close()  # bob goes away; mallory tries to come back as him
        await watcher.close()
        await eventually(lambda: _names(backend, room_id, set()), what="the room emptied")
        await asyncio.wait_for(listener.join(), JOIN_TIMEOUT)
        event = await asyncio.wait_for(attacker.join(id=seen[0]["id"], display=seen[0]["display"], muted=False),
                                       JOIN_TIMEOUT)
        assert event["plugindata"]["data"]["id"] == int(attacker.params["id"]) != seen[0]["id"]
        assert [(p.user_id, p.muted) for p in await backend.participants(room_id)] == [
            ("listener", True), ("mallory", True)]
        await asyncio.sleep(1.5)
        assert await listener.measure(2.0) < SILENT  # not heard as bob (who may speak), nor as herself
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.close(), 10) for c in (bob, watcher, attacker, listener)),
                             return_exceptions=True)


async def test_why_janus_alone_would_accept_the_claim(backend: JanusMediaBackend, room_id: str) -> None:
    """The defect the proxy closes: with direct access to Janus (the api secret, which clients no
    longer have), a join with mallory's own token claiming bob's id and display is accepted as bob."""
    from tests.media.test_janus_backend import join_bare

    await backend.create_room(room_id)
    mine = (await backend.credentials(room_id, "mallory", can_publish=False)).connection_url
    mallory = await join_bare(backend.url, mine, id=backend.participant_id("bob"), display=backend.seal_display("bob"))
    try:
        assert mallory.joined.get("audiobridge") == "joined"
        assert [p.user_id for p in await backend.participants(room_id)] == ["bob"]
    finally:
        await mallory.close()


async def _names(backend: JanusMediaBackend, room_id: str, wanted: set[str]) -> bool:
    return {p.user_id for p in await backend.participants(room_id)} == wanted


async def test_forged_altered_expired_and_plain_tokens_are_refused(
    served: tuple[str, JanusMediaBackend], room_id: str
) -> None:
    proxy, backend = served
    await backend.create_room(room_id)
    credentials = await backend.credentials(room_id, "alice", can_publish=True)
    query = query_of(credentials.connection_url)
    payload, mac = credentials.token[4:].split(".")
    forged = Tickets(b"not the media secret").bridge(room=int(query["room"]), id=int(query["id"]),
                                                     display=query["display"], pin=query["pin"],
                                                     token=backend.user_token(room_id, "alice"), muted=False)
    ttl, backend.tickets.ttl = backend.tickets.ttl, -1
    try:
        expired = (await backend.credentials(room_id, "alice", can_publish=True)).token
    finally:
        backend.tickets.ttl = ttl
    raw = Raw(proxy)
    try:
        for token, why in ((forged, "signature"), (f"tt1.{payload[:-2]}xy.{mac}", "signature"),
                           (expired, "expired"), (backend.user_token(room_id, "alice"), "not a townhall ticket"),
                           (None, "not a townhall ticket")):
            session, handle = await raw.handle()
            body = {"request": "join", "room": int(query["room"]), "pin": query["pin"], "id": int(query["id"]),
                    "display": query["display"], "token": token}
            assert refused(await raw.post(f"/{session}/{handle}", {"janus": "message", "body": body}), why), why
        assert await backend.participants(room_id) == []
    finally:
        await raw.close()


async def test_the_proxy_relays_only_what_a_room_client_needs(
    served: tuple[str, JanusMediaBackend], janus: JanusServer, room_id: str
) -> None:
    proxy, backend = served
    await backend.create_room(room_id)
    number, secret = backend.room_number(room_id), backend.room_secret(room_id)
    raw = Raw(proxy)
    try:
        session = (await raw.post("", {"janus": "create"}))["data"]["id"]
        assert refused(await raw.post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}),
                       "janus.plugin.videoroom")
        assert refused(await raw.post("", {"janus": "info"}))
        assert refused(await raw.post(f"/{session}", {"janus": "claim"}))
        session, handle = await raw.handle()
        admin = janus.read_state()["admin_key"]
        for body in ({"request": "kick", "room": number, "secret": secret, "id": 1},
                     {"request": "listparticipants", "room": number},
                     {"request": "create", "room": 42, "admin_key": admin},
                     {"request": "rtp_forward", "room": number, "secret": secret, "admin_key": admin,
                      "host": "127.0.0.1", "port": 5000},
                     {"request": "list"}):
            assert refused(await raw.post(f"/{session}/{handle}", {"janus": "message", "body": body}),
                           repr(body["request"])), body
        ticket = (await backend.credentials(room_id, "eve", can_publish=False)).token
        rtp_join = {"request": "join", "token": ticket, "rtp": {"ip": "127.0.0.1", "port": 9}}
        assert refused(await raw.post(f"/{session}/{handle}", {"janus": "message", "body": rtp_join}), "'rtp'")
        # a legitimate join through the same handle works, then configure may not move or rename it
        joined = await raw.plugin_answer(session, handle, {"request": "join", "token": ticket})
        assert joined["plugindata"]["data"]["audiobridge"] == "joined"
        assert refused(await raw.post(f"/{session}/{handle}", {"janus": "message", "body": {
            "request": "configure", "id": 7}}), "id")
        renamed = await raw.plugin_answer(session, handle, {"request": "configure", "display": "bob"})
        assert renamed["plugindata"]["data"].get("result") == "ok"
        [eve] = [p for p in (await backend._request({"request": "listparticipants", "room": number}))["participants"]
                 if p["id"] >= 2**32]
        assert eve["display"] == backend.seal_display("eve")  # the display stayed the ticket's
        # Janus's own errors come back as Janus sent them
        assert (await raw.post("/1", {"janus": "keepalive"}))["error"]["code"] == 458
    finally:
        await raw.close()


async def test_bad_bodies_paths_and_sessions_get_janus_error_answers(served: tuple[str, JanusMediaBackend]) -> None:
    proxy, _ = served
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [
            (await http.post(proxy, content=b"not json")).json(),
            (await http.post(proxy, content=b"[1, 2]")).json(),
            (await http.post(proxy, content=b"x" * (300 * 1024))).json(),
            (await http.post(f"{proxy}/abc", json={"janus": "keepalive"})).json(),
            (await http.get(f"{proxy}/12345", params={"maxev": 1})).json(),
        ]
    assert [a["error"]["code"] for a in answers] == [454, 403, 450, 457, 458]
    assert all(a["janus"] == "error" and a["error"]["reason"] for a in answers)


async def test_browsers_on_other_origins_may_signal_through_the_proxy(served: tuple[str, JanusMediaBackend]) -> None:
    proxy, _ = served
    async with httpx.AsyncClient(timeout=10) as http:
        preflight = await http.options(proxy, headers={"Origin": "https://app.example",
                                                       "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"})
        created = await http.post(proxy, json={"janus": "create", "transaction": "t"},
                                  headers={"Origin": "https://app.example"})
        await http.post(f"{proxy}/{created.json()['data']['id']}", json={"janus": "destroy", "transaction": "d"})
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
    assert created.headers["access-control-allow-origin"] == "*" and created.json()["janus"] == "success"


async def test_janus_refuses_requests_without_the_api_secret(janus: JanusServer) -> None:
    state = janus.read_state()
    without, with_secret = Raw(state["url"]), Raw(state["url"], state["api_secret"])
    try:
        assert (await without.post("", {"janus": "create"}))["error"]["code"] == 403
        session = (await with_secret.post("", {"janus": "create"}))["data"]["id"]
        assert (await without.post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.audiobridge"})
                )["error"]["code"] == 403
        assert (await without.http.get(f"{state['url']}/{session}", params={"maxev": 1})).status_code == 403
        await with_secret.post(f"/{session}", {"janus": "destroy"})
    finally:
        await without.close()
        await with_secret.close()


def test_the_settings_choose_the_proxy_unless_a_public_janus_url_is_given(janus: JanusServer, tmp_path: Path) -> None:
    state = janus.read_state()
    media = MediaSettings(backend="janus", janus_url=state["url"], janus_admin_key=state["admin_key"])
    proxied = create_media_backend(Settings(data_dir=tmp_path, public_url="https://town.example/", media=media), "c")
    assert isinstance(proxied, JanusMediaBackend) and proxied.client_url == "https://town.example/media/janus"
    direct = create_media_backend(Settings(data_dir=tmp_path, media=media.model_copy(
        update={"janus_public_url": "https://janus.example/janus"})), "c")
    assert isinstance(direct, JanusMediaBackend) and direct.proxy_url is None
    assert direct.client_url == "https://janus.example/janus"
    off = create_media_backend(Settings(data_dir=tmp_path, media=media.model_copy(update={"janus_proxy": False})), "c")
    assert isinstance(off, JanusMediaBackend) and off.client_url == state["url"]
    # the api secret of the Janus `townhall janus start` ran comes from its janus.json
    assert JanusServer(janus.folder).read_state()["api_secret"] == state["api_secret"]


def test_the_gate_puts_the_tickets_identity_into_a_join_whatever_the_client_claims() -> None:
    tickets = Tickets(b"key")
    ticket = tickets.bridge(room=5, id=2**40, display="th1.x", pin="p", token="real", muted=True)
    claimed = {"request": "join", "room": 6, "id": 2**41, "display": "bob", "pin": "q", "token": ticket,
               "muted": False, "bitrate": 24000}
    admitted = admit({"janus": "message", "body": claimed, "apisecret": "guess"}, tickets, session=True, handle=True)
    assert admitted == {"janus": "message", "body": {"request": "join", "room": 5, "id": 2**40, "display": "th1.x",
                                                     "pin": "p", "token": "real", "muted": True, "bitrate": 24000}}
    stream = tickets.stream(stream=9, pin="sp")
    watch = admit({"janus": "message", "body": {"request": "watch", "id": 1, "pin": "x", "token": stream}}, tickets,
                  session=True, handle=True)
    assert watch["body"] == {"request": "watch", "id": 9, "pin": "sp"}
    with pytest.raises(Refused, match="not for a Streaming watch"):
        admit({"janus": "message", "body": {"request": "watch", "token": ticket}}, tickets, session=True, handle=True)
    with pytest.raises(Refused, match="not relayed on the root"):
        admit({"janus": "attach", "plugin": "janus.plugin.audiobridge"}, tickets, session=False, handle=False)


def test_the_gate_refuses_odd_shapes_and_drops_fields_a_request_does_not_need() -> None:
    tickets = Tickets(b"key")
    for message, where in (({"janus": ["create"]}, {}), ({"janus": "attach", "plugin": {}}, {"session": True}),
                           ({"janus": "message", "body": {"request": {}}}, {"session": True, "handle": True})):
        with pytest.raises(Refused):
            admit(message, tickets, session=where.get("session", False), handle=where.get("handle", False))
    created = admit({"janus": "create", "transaction": "t", "id": 123456789, "apisecret": "x", "token": "y"},
                    tickets, session=False, handle=False)
    assert created == {"janus": "create", "transaction": "t"}  # Janus chooses the session id


async def test_malformed_requests_get_janus_error_answers_not_server_errors(
        served: tuple[str, JanusMediaBackend]) -> None:
    proxy, _ = served
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [
            await http.post(proxy, content=b'{"janus": "x", "transaction": NaN}'),
            await http.post(proxy, content=b"[" * 100_000),
            await http.post(proxy, json={"janus": ["create"]}),
            await http.post(f"{proxy}/{'9' * 5000}", json={"janus": "keepalive"}),
            await http.get(f"{proxy}/{'9' * 5000}"),
        ]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["error"]["code"] for a in answers] == [454, 454, 403, 457, 457]


async def test_long_polls_per_session_are_capped(served: tuple[str, JanusMediaBackend]) -> None:
    proxy, _ = served
    async with httpx.AsyncClient(timeout=40) as http:
        session = (await http.post(proxy, json={"janus": "create", "transaction": "c"})).json()["data"]["id"]
        polls = [asyncio.create_task(http.get(f"{proxy}/{session}", params={"maxev": 1})) for _ in range(2)]
        await asyncio.sleep(0.5)  # both are held by Janus now
        third = (await http.get(f"{proxy}/{session}", params={"maxev": 1})).json()
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        await http.post(f"{proxy}/{session}", json={"janus": "destroy", "transaction": "d"})
    assert third["janus"] == "error" and third["error"]["code"] == 429
