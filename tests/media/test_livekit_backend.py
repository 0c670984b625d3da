"""The livekit media backend: access tokens checked with livekit-api's verifier, RoomService calls
against a loopback stand-in speaking Twirp (no LiveKit server can be installed here), webhooks."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from livekit import api

from tests.media.livekit_standin import RoomServiceStandIn
from townhall.config import MediaSettings, Settings
from townhall.media import MediaError, MediaEvent, MediaParticipant, MediaUnavailable, create_media_backend
from townhall.media.janus_server import free_port
from townhall.media.livekit import LiveKitMediaBackend, WebhookRejected, verify_webhook

KEY, SECRET = "APIstandin", "standin-secret-standin-secret-standin-secret"


@pytest.fixture
async def standin() -> AsyncIterator[RoomServiceStandIn]:
    server = RoomServiceStandIn(KEY, SECRET)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def livekit(standin: RoomServiceStandIn) -> AsyncIterator[LiveKitMediaBackend]:
    backend = LiveKitMediaBackend("wss://livekit.townhall.test", api_key=KEY, api_secret=SECRET,
                                  api_url=standin.url, token_ttl=600, timeout=5)
    await backend.start()
    yield backend
    await backend.close()


async def test_credentials_carry_an_access_token_granting_this_room_and_publishing_only_when_allowed(
    livekit: LiveKitMediaBackend,
) -> None:
    speaker = await livekit.credentials("room-1", "alice", can_publish=True)
    listener = await livekit.credentials("room-1", "bob", can_publish=False)
    assert speaker.connection_url.startswith("livekit:wss://livekit.townhall.test?access_token=")
    token = parse_qs(urlsplit(speaker.connection_url.removeprefix("livekit:")).query)["access_token"][0]
    assert token == speaker.token
    verifier = api.TokenVerifier(KEY, SECRET)
    claims = verifier.verify(speaker.token)
    assert claims.identity == "alice"
    assert claims.video is not None
    assert (claims.video.room, claims.video.room_join, claims.video.can_publish, claims.video.can_subscribe) == (
        "room-1", True, True, True)
    assert not claims.video.room_admin and not claims.video.room_create
    listener_claims = verifier.verify(listener.token)
    assert listener_claims.video is not None and listener_claims.video.can_publish is False
    assert listener_claims.video.can_subscribe is True
    exp = json.loads(base64.urlsafe_b64decode(speaker.token.split(".")[1] + "=="))["exp"]
    assert 590 <= exp - time.time() <= 610
    with pytest.raises(Exception):
        api.TokenVerifier(KEY, "another-secret-another-secret-another").verify(speaker.token)


async def test_join_tokens_are_short_lived_by_default_and_listeners_cannot_publish_data() -> None:
    assert MediaSettings().livekit_token_ttl == 120
    backend = create_media_backend(Settings(media=MediaSettings(
        backend="livekit", livekit_url="wss://lk.test", livekit_api_key=KEY, livekit_api_secret=SECRET)), "chat")
    assert isinstance(backend, LiveKitMediaBackend)
    speaker = await backend.credentials("room-1", "alice", can_publish=True)
    listener = await backend.credentials("room-1", "bob", can_publish=False)
    exp = json.loads(base64.urlsafe_b64decode(speaker.token.split(".")[1] + "=="))["exp"]
    assert 110 <= exp - time.time() <= 130
    verifier = api.TokenVerifier(KEY, SECRET)
    speaker_grant, listener_grant = verifier.verify(speaker.token).video, verifier.verify(listener.token).video
    assert speaker_grant is not None and speaker_grant.can_publish_data is True
    assert listener_grant is not None and (listener_grant.can_publish, listener_grant.can_publish_data) == (False, False)
    await backend.close()


async def test_rooms_are_created_and_deleted_through_the_room_service(
    livekit: LiveKitMediaBackend, standin: RoomServiceStandIn
) -> None:
    room = await livekit.create_room("room-1")
    assert (room.backend, room.media_room) == ("livekit", "room-1")
    assert "room-1" in standin.rooms
    await livekit.destroy_room("room-1")
    await livekit.destroy_room("room-1")  # already gone: not an error
    assert standin.rooms == {}
    assert [c.method for c in standin.calls] == ["CreateRoom", "DeleteRoom", "DeleteRoom"]
    assert standin.calls[0].content_type.startswith("application/protobuf")
    assert standin.calls[0].claims.video is not None and standin.calls[0].claims.video.room_create


async def test_set_publish_updates_the_participants_permission(
    livekit: LiveKitMediaBackend, standin: RoomServiceStandIn
) -> None:
    await livekit.create_room("room-1")
    standin.add_participant("room-1", "bob", can_publish=False)
    await livekit.set_publish("room-1", "bob", True)
    call = standin.calls[-1]
    assert call.method == "UpdateParticipant"
    assert call.request == {"room": "room-1", "identity": "bob",
                            "permission": {"canSubscribe": True, "canPublish": True, "canPublishData": True}}
    assert call.claims.video is not None and call.claims.video.room_admin and call.claims.video.room == "room-1"
    await livekit.set_publish("room-1", "bob", False)
    assert standin.rooms["room-1"]["bob"].permission.can_publish is False
    assert standin.rooms["room-1"]["bob"].permission.can_publish_data is False
    await livekit.set_publish("room-1", "nobody", True)  # not connected: nothing to update, no error


async def test_participants_and_kick_go_through_the_room_service(
    livekit: LiveKitMediaBackend, standin: RoomServiceStandIn
) -> None:
    await livekit.create_room("room-1")
    standin.add_participant("room-1", "alice", can_publish=True)
    standin.add_participant("room-1", "bob", can_publish=False)
    assert await livekit.participants("room-1") == [
        MediaParticipant("alice", muted=False), MediaParticipant("bob", muted=True)]
    await livekit.kick("room-1", "alice")
    assert standin.calls[-1].method == "RemoveParticipant"
    assert standin.calls[-1].request == {"room": "room-1", "identity": "alice"}
    assert [p.user_id for p in await livekit.participants("room-1")] == ["bob"]
    await livekit.kick("room-1", "alice")  # gone already: not an error


async def test_errors_of_the_room_service_become_media_errors_with_the_twirp_code(
    standin: RoomServiceStandIn,
) -> None:
    wrong = LiveKitMediaBackend("ws://x", api_key=KEY, api_secret="not-the-secret-not-the-secret-not",
                                api_url=standin.url, timeout=5)
    await wrong.start()
    try:
        with pytest.raises(MediaError) as caught:
            await wrong.create_room("room-1")
        assert caught.value.code == "unauthenticated"
        assert standin.calls == []
    finally:
        await wrong.close()
    right = LiveKitMediaBackend("ws://x", api_key=KEY, api_secret=SECRET, api_url=standin.url, timeout=5)
    await right.start()
    try:
        with pytest.raises(MediaError) as caught:
            await right.participants("no-such-room")
        assert caught.value.code == "not_found"
    finally:
        await right.close()


async def test_an_unreachable_livekit_is_media_unavailable() -> None:
    backend = LiveKitMediaBackend("ws://x", api_key=KEY, api_secret=SECRET,
                                  api_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    await backend.start()
    try:
        with pytest.raises(MediaUnavailable):
            await backend.create_room("room-1")
    finally:
        await backend.close()


def signed_webhook(event: dict[str, object], secret: str = SECRET) -> tuple[str, str]:
    body = json.dumps(event)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return body, api.AccessToken(KEY, secret).with_sha256(digest).to_jwt()


async def test_signed_webhooks_become_join_and_leave_events(livekit: LiveKitMediaBackend) -> None:
    seen: list[MediaEvent] = []

    async def record(event: MediaEvent) -> None:
        seen.append(event)

    livekit.on_event(record)
    for kind in ("participant_joined", "participant_left"):
        body, token = signed_webhook({"event": kind, "room": {"name": "room-1"}, "participant": {"identity": "alice"}})
        await livekit.handle_webhook(body, f"Bearer {token}")
    body, token = signed_webhook({"event": "room_started", "room": {"name": "room-1"}})
    assert await livekit.handle_webhook(body, token) is None
    assert seen == [MediaEvent("joined", "room-1", "alice"), MediaEvent("left", "room-1", "alice")]


async def test_webhooks_with_a_bad_signature_or_a_tampered_body_are_rejected() -> None:
    body, token = signed_webhook({"event": "participant_joined", "room": {"name": "r"}, "participant": {"identity": "a"}})
    assert verify_webhook(KEY, SECRET, body, token).participant.identity == "a"
    with pytest.raises(WebhookRejected):
        verify_webhook(KEY, SECRET, body.replace('"a"', '"mallory"'), token)
    _, forged = signed_webhook({"event": "x"}, secret="forged-secret-forged-secret-forged-secret")
    with pytest.raises(WebhookRejected):
        verify_webhook(KEY, SECRET, body, forged)
    with pytest.raises(WebhookRejected):
        verify_webhook(KEY, SECRET, body, "")


def test_settings_choose_the_backend(tmp_path: object) -> None:
    livekit = Settings(media=MediaSettings(backend="livekit", livekit_url="wss://lk.test", livekit_api_key=KEY,
                                           livekit_api_secret=SECRET))
    built = create_media_backend(livekit, "chat-secret")
    assert isinstance(built, LiveKitMediaBackend) and built.api_url == "https://lk.test"
    with pytest.raises(MediaError, match="TOWNHALL_MEDIA__LIVEKIT_URL"):
        create_media_backend(Settings(media=MediaSettings(backend="livekit")), "chat-secret")
    assert create_media_backend(Settings(), "chat-secret").name == "null"


def joined_webhook(user_id: str, *, can_publish: bool) -> tuple[str, str]:
    return signed_webhook({"event": "participant_joined", "room": {"name": "room-1"}, "participant": {
        "identity": user_id, "permission": {"canSubscribe": True, "canPublish": can_publish,
                                            "canPublishData": can_publish}}})


async def test_a_join_is_checked_against_room_state_and_kicked_or_demoted_users_are_removed_or_downgraded(
    livekit: LiveKitMediaBackend, standin: RoomServiceStandIn
) -> None:
    # Room state (owned by the rooms core): mallory was kicked, bob demoted; both still hold a token.
    in_room, speakers = {"alice", "bob", "carol"}, {"alice"}
    asked: list[tuple[str, str, str]] = []

    async def may_join(room_id: str, user_id: str) -> bool:
        asked.append(("join", room_id, user_id))
        return user_id in in_room

    def may_publish(room_id: str, user_id: str) -> bool:  # plain functions are fine too
        asked.append(("publish", room_id, user_id))
        return user_id in speakers

    livekit.set_access(may_join=may_join, may_publish=may_publish)
    seen: list[MediaEvent] = []

    async def record(event: MediaEvent) -> None:
        seen.append(event)

    livekit.on_event(record)
    await livekit.create_room("room-1")
    for user_id, can_publish in (("alice", True), ("bob", True), ("carol", False), ("mallory", True)):
        standin.add_participant("room-1", user_id, can_publish=can_publish)
        body, token = joined_webhook(user_id, can_publish=can_publish)
        await livekit.handle_webhook(body, f"Bearer {token}")
    assert seen == [MediaEvent("joined", "room-1", u) for u in ("alice", "bob", "carol")]
    assert set(standin.rooms["room-1"]) == {"alice", "bob", "carol"}  # mallory removed
    assert standin.rooms["room-1"]["alice"].permission.can_publish is True
    bob = standin.rooms["room-1"]["bob"].permission
    assert (bob.can_publish, bob.can_publish_data, bob.can_subscribe) == (False, False, True)
    assert [(c.method, c.request.get("identity")) for c in standin.calls[1:]] == [
        ("UpdateParticipant", "bob"), ("RemoveParticipant", "mallory")]
    # carol joined as a listener: nothing to downgrade, so publishing was not asked about
    assert ("publish", "room-1", "carol") not in asked and ("join", "room-1", "carol") in asked


async def test_a_failing_access_check_refuses_the_join(livekit: LiveKitMediaBackend, standin: RoomServiceStandIn) -> None:
    async def broken(room_id: str, user_id: str) -> bool:
        raise RuntimeError("database down")

    livekit.set_access(may_join=broken)
    await livekit.create_room("room-1")
    standin.add_participant("room-1", "alice", can_publish=True)
    body, token = joined_webhook("alice", can_publish=True)
    assert await livekit.handle_webhook(body, token) is None
    assert standin.rooms["room-1"] == {}
