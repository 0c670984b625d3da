"""LiveKit's webhooks at POST /media/livekit/webhook: signed with livekit-api exactly as LiveKit signs
them, checked, and turned into media events that drive room presence through the live runtime."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from livekit import api

from tests.media.livekit_standin import RoomServiceStandIn
from townhall.app import create_app
from townhall.config import MediaSettings, Settings
from townhall.container import Container
from townhall.core.accounts import service as accounts
from townhall.core.rooms import actions
from townhall.core.rooms import service as rooms
from townhall.core.rooms.models import INTERRUPTED, LEFT
from townhall.media import MediaEvent

KEY, SECRET = "APIwebhooks", "webhook-secret-webhook-secret-webhook-secret"
URL = "/media/livekit/webhook"


def signed(event: dict[str, object], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """A webhook as LiveKit sends it: the JSON body and an Authorization JWT carrying its SHA-256."""
    body = json.dumps(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = api.AccessToken(KEY, secret).with_sha256(digest).to_jwt()
    return body, {"Authorization": token, "Content-Type": "application/webhook+json"}


def participant_event(kind: str, room: str, identity: str, **participant: object) -> dict[str, object]:
    return {"event": kind, "id": f"EV_{secrets.token_hex(4)}", "createdAt": "1700000000",
            "room": {"name": room, "sid": "RM_x"}, "participant": {"identity": identity, "sid": "PA_x", **participant}}


@pytest.fixture
async def livekit_app(migrated_db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """The whole app on a container whose media backend is LiveKit (RoomService: a loopback stand-in)."""
    standin = RoomServiceStandIn(KEY, SECRET)
    await standin.start()
    settings = Settings(data_dir=tmp_path, database_url=migrated_db_url, log_format="text", media=MediaSettings(
        backend="livekit", livekit_url="wss://livekit.townhall.test", livekit_api_url=standin.url,
        livekit_api_key=KEY, livekit_api_secret=SECRET))
    container = Container.build(settings)
    await container.start()
    app = create_app(settings, container)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://townhall.test") as http:
                yield container, http
    finally:
        await container.close()
        await standin.stop()


def record(container: Container) -> list[MediaEvent]:
    seen: list[MediaEvent] = []

    async def on_event(event: MediaEvent) -> None:
        seen.append(event)

    container.media.on_event(on_event)
    return seen


async def test_signed_join_and_leave_webhooks_drive_the_presence_of_a_rooms_participant(
    livekit_app: tuple[Container, httpx.AsyncClient],
) -> None:
    container, http = livekit_app
    seen = record(container)
    async with container.uow() as uow:
        (ada,) = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=f"lk-{secrets.token_hex(4)}",
                                                                            name="ada")])
    room = (await actions.create(container.uow, container.media, ada.id)).room

    async def status() -> str:
        async with container.read() as conn:
            part = await rooms.participant(conn, room.id, ada.id)
        assert part is not None
        return part.status

    body, headers = signed(participant_event("participant_left", room.code, str(ada.id), disconnectReason="JOIN_FAILURE"))
    answer = await http.post(URL, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert seen == [MediaEvent("left", room.code, str(ada.id), voluntary=False)]
    assert await status() == INTERRUPTED  # a drop: the grace period runs

    body, headers = signed(participant_event("participant_joined", room.code, str(ada.id),
                                             permission={"canPublish": True, "canSubscribe": True}))
    assert (await http.post(URL, content=body, headers=headers)).status_code == 200
    assert seen[-1] == MediaEvent("joined", room.code, str(ada.id))
    assert await status() not in (INTERRUPTED, LEFT)  # present again (joined or connected)


async def test_a_client_initiated_disconnect_is_a_voluntary_leave(
    livekit_app: tuple[Container, httpx.AsyncClient],
) -> None:
    container, http = livekit_app
    seen = record(container)
    body, headers = signed(participant_event("participant_left", "some-room", "42", disconnectReason="CLIENT_INITIATED"))
    assert (await http.post(URL, content=body, headers=headers)).status_code == 200
    assert seen == [MediaEvent("left", "some-room", "42", voluntary=True)]


async def test_a_replayed_webhook_is_accepted_and_ignored(livekit_app: tuple[Container, httpx.AsyncClient]) -> None:
    container, http = livekit_app
    seen = record(container)
    body, headers = signed(participant_event("participant_left", "some-room", "42", disconnectReason="CLIENT_INITIATED"))
    for _ in range(2):  # captured and posted again while its token is valid
        answer = await http.post(URL, content=body, headers=headers)
        assert (answer.status_code, answer.json()) == (200, {"ok": True})
    assert seen == [MediaEvent("left", "some-room", "42", voluntary=True)]


async def test_a_late_retry_older_than_the_participants_last_event_is_ignored(
    livekit_app: tuple[Container, httpx.AsyncClient],
) -> None:
    container, http = livekit_app
    seen = record(container)
    async with container.uow() as uow:
        (ada,) = await accounts.upsert_chat_users(uow, [accounts.UserFields(chat_id=f"lk-{secrets.token_hex(4)}",
                                                                            name="ada")])
    room = (await actions.create(container.uow, container.media, ada.id)).room
    joined = {**participant_event("participant_joined", room.code, str(ada.id)), "createdAt": "1700000100"}
    left = {**participant_event("participant_left", room.code, str(ada.id), disconnectReason="CLIENT_INITIATED"),
            "createdAt": "1700000050"}  # sent before the join, delivered after it
    for event in (joined, left):
        body, headers = signed(event)
        assert (await http.post(URL, content=body, headers=headers)).status_code == 200
    assert seen == [MediaEvent("joined", room.code, str(ada.id))]
    async with container.read() as conn:
        part = await rooms.participant(conn, room.id, ada.id)
        current = await rooms.get_room(conn, room_id=room.id)
    assert part is not None and part.status not in (INTERRUPTED, LEFT) and current.ended_at is None


async def test_other_livekit_events_are_accepted_and_ignored(livekit_app: tuple[Container, httpx.AsyncClient]) -> None:
    container, http = livekit_app
    seen = record(container)
    body, headers = signed({"event": "room_started", "room": {"name": "some-room"}})
    answer = await http.post(URL, content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (200, {"ok": True})
    assert seen == []


async def test_a_missing_forged_or_mismatched_signature_is_401_and_emits_nothing(
    livekit_app: tuple[Container, httpx.AsyncClient],
) -> None:
    container, http = livekit_app
    seen = record(container)
    body, headers = signed(participant_event("participant_joined", "some-room", "42"))
    missing = await http.post(URL, content=body)
    assert missing.status_code == 401 and "error" in missing.json()
    _, forged = signed(participant_event("participant_joined", "some-room", "42"),
                       secret="forged-secret-forged-secret-forged-secret")
    assert (await http.post(URL, content=body, headers=forged)).status_code == 401
    tampered = body.replace(b'"42"', b'"43"')
    assert (await http.post(URL, content=tampered, headers=headers)).status_code == 401
    assert (await http.post(URL, content=body, headers={"Authorization": "Bearer not-a-jwt"})).status_code == 401
    assert seen == []


async def test_a_signed_body_that_is_not_a_livekit_event_is_400(
    livekit_app: tuple[Container, httpx.AsyncClient],
) -> None:
    _, http = livekit_app
    for body in (b"{not json", b'{"event": 12, "room": []}', b"\xff\xfe"):
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        token = api.AccessToken(KEY, SECRET).with_sha256(digest).to_jwt()
        answer = await http.post(URL, content=body, headers={"Authorization": token})
        assert answer.status_code == 400, body
        assert set(answer.json()) == {"error"}


async def test_webhooks_are_404_when_the_media_backend_is_not_livekit(client: httpx.AsyncClient) -> None:
    body, headers = signed(participant_event("participant_joined", "some-room", "42"))
    answer = await client.post(URL, content=body, headers=headers)
    assert answer.status_code == 404 and "error" in answer.json()
    assert (await client.get(URL)).status_code == 405
