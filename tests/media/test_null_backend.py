"""The null media backend: room state only, the same contract as a real media server."""

from __future__ import annotations

import asyncio

import pytest

from townhall.media import MediaBackend, MediaEvent, MediaParticipant, MediaRoomNotFound, NullMediaBackend


async def test_every_backend_is_a_media_backend() -> None:
    from townhall.media.janus import JanusMediaBackend
    from townhall.media.livekit import LiveKitMediaBackend

    janus = JanusMediaBackend("http://127.0.0.1:1/janus", admin_key="k", secret="s")
    livekit = LiveKitMediaBackend("wss://lk.test", api_key="k", api_secret="s")
    for backend in (NullMediaBackend(), janus, livekit):
        assert isinstance(backend, MediaBackend), backend


async def test_credentials_say_who_may_publish_and_joins_follow_the_publish_rights() -> None:
    backend = NullMediaBackend()
    await backend.start()
    room = await backend.create_room("r1")
    assert room.backend == "null" and room.media_room == "r1"
    speaker = await backend.credentials("r1", "alice", can_publish=True)
    listener = await backend.credentials("r1", "bob", can_publish=False)
    assert speaker.connection_url == "null:?room=r1&user=alice&publish=true"
    assert listener.can_publish is False
    await backend.simulate_join("r1", "alice")
    await backend.simulate_join("r1", "bob")
    assert await backend.participants("r1") == [MediaParticipant("alice", muted=False), MediaParticipant("bob", muted=True)]
    await backend.set_publish("r1", "bob", True)
    await backend.set_publish("r1", "alice", False)
    assert [(p.user_id, p.muted) for p in await backend.participants("r1")] == [("alice", True), ("bob", False)]
    await backend.close()


async def test_joins_leaves_kicks_and_the_end_of_a_room_are_reported_to_subscribers_and_callbacks() -> None:
    backend = NullMediaBackend()
    seen: list[MediaEvent] = []

    async def callback(event: MediaEvent) -> None:
        seen.append(event)

    backend.on_event(callback)
    received: list[MediaEvent] = []

    async def consume() -> None:
        async for event in backend.subscribe():
            received.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await backend.create_room("r1")
    await backend.credentials("r1", "alice", can_publish=True)
    await backend.simulate_join("r1", "alice")
    await backend.simulate_join("r1", "bob")
    await backend.simulate_join("r1", "carol")
    await backend.kick("r1", "bob")
    await backend.kick("r1", "bob")  # not there any more: nothing happens
    await backend.simulate_leave("r1", "carol", voluntary=True)
    await backend.destroy_room("r1")
    await backend.destroy_room("r1")  # idempotent
    await backend.close()
    await asyncio.wait_for(task, 2)
    expected = [
        MediaEvent("joined", "r1", "alice"), MediaEvent("joined", "r1", "bob"), MediaEvent("joined", "r1", "carol"),
        MediaEvent("left", "r1", "bob"), MediaEvent("left", "r1", "carol", voluntary=True),
        MediaEvent("left", "r1", "alice"),
    ]
    assert received == expected and seen == expected


async def test_a_failing_callback_does_not_stop_the_others() -> None:
    backend = NullMediaBackend()
    seen: list[str] = []

    async def broken(event: MediaEvent) -> None:
        raise RuntimeError("boom")

    async def working(event: MediaEvent) -> None:
        seen.append(event.user_id)

    backend.on_event(broken)
    backend.on_event(working)
    await backend.create_room("r1")
    await backend.simulate_join("r1", "alice")
    assert seen == ["alice"]


async def test_a_room_created_by_another_worker_can_be_used_in_this_one() -> None:
    creator, other = NullMediaBackend(), NullMediaBackend()  # two `serve --workers` processes
    await creator.create_room("r1")
    credentials = await other.credentials("r1", "alice", can_publish=True)
    assert credentials.connection_url == "null:?room=r1&user=alice&publish=true"
    assert await other.participants("r1") == []
    await other.set_publish("r1", "bob", True)
    await other.kick("r1", "carol")
    await other.watch("r1")
    await other.simulate_join("r1", "alice")
    assert await other.participants("r1") == [MediaParticipant("alice", muted=False)]
    await other.destroy_room("r1")
    for call in (other.participants("r1"), other.credentials("r1", "alice", can_publish=True), other.watch("r1")):
        with pytest.raises(MediaRoomNotFound):  # a room this process ended is gone, until created again
            await call
    await other.create_room("r1")
    assert await other.participants("r1") == []


async def test_joins_follow_the_access_checks_of_whoever_owns_room_state() -> None:
    backend = NullMediaBackend()
    speakers, banned = {"alice"}, {"mallory"}

    async def may_publish(room_id: str, user_id: str) -> bool:
        return user_id in speakers

    backend.set_access(may_join=lambda room_id, user_id: user_id not in banned, may_publish=may_publish)
    await backend.credentials("r1", "bob", can_publish=True)  # stale: the shared state says listener
    assert await backend.simulate_join("r1", "alice") is True
    assert await backend.simulate_join("r1", "bob") is True
    assert await backend.simulate_join("r1", "mallory") is False
    assert await backend.participants("r1") == [MediaParticipant("alice", muted=False),
                                                MediaParticipant("bob", muted=True)]
