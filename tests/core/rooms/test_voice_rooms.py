"""Voice rooms in the rooms core: users by address, one live room per community id, the media calls
around entering (failures leave nothing behind, a race leaves one room), and Clubhouse rooms keeping
their own presence rules next to the voice ones."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.core.communities.factories import make_users
from tests.core.rooms.test_rooms_lifecycle import FailingMedia, create, part
from townhall.container import Container
from townhall.core.accounts import profiles
from townhall.core.accounts.tables import users
from townhall.core.clock import now
from townhall.core.errors import Forbidden
from townhall.core.rooms import actions, service, voice
from townhall.core.rooms.actions import MediaFailed
from townhall.core.rooms.models import COMMUNITY, CONNECTED, INTERRUPTED, JOINED, VOICE_PRIVATE


def _address() -> str:
    return "0x" + secrets.token_hex(20)


async def _live(container: Container, kind: str, external_id: str) -> service.Room | None:
    async with container.read() as conn:
        return await voice.live_room(conn, kind, external_id)


async def test_an_address_names_one_user_made_on_first_sight_with_the_profile_it_came_with(
        container: Container) -> None:
    address = _address()
    async with container.uow() as uow:
        first = await voice.do_user_of_address(uow, address, profile={"name": "Ada", "profile_picture_url": "u"})
        again = await voice.do_user_of_address(uow, address, profile={"has_claimed_name": True})
    assert first == again
    async with container.read() as conn:
        row = (await conn.execute(select(users.c.name, users.c.image).where(users.c.id == first))).one()
        assert tuple(row) == ("Ada", "u")
        assert await voice.addresses_of(conn, [first]) == {first: address}


async def test_a_community_has_at_most_one_live_room(container: Container) -> None:
    community_id = f"c-{uuid.uuid4()}"
    async with container.uow() as uow:
        owner = await voice.do_user_of_address(uow, _address())
        kwargs = dict(kind=COMMUNITY, external_id=community_id, creator_id=owner, club_id=None,
                      media_backend="null", media_room="", at=now())
        first = await voice._insert_room(uow, code=service.new_code(), **kwargs)  # type: ignore[arg-type]
        second = await voice._insert_room(uow, code=service.new_code(), **kwargs)  # type: ignore[arg-type]
    assert first.id == second.id
    # a private voice chat may use the same name: another kind
    async with container.uow() as uow:
        other = await voice._insert_room(uow, code=service.new_code(), **{**kwargs, "kind": VOICE_PRIVATE})  # type: ignore[arg-type]
    assert other.id != first.id


async def test_a_chat_made_by_another_request_meanwhile_is_joined_and_the_spare_media_room_dropped(
        container: Container) -> None:
    community_id, a, b = f"c-{uuid.uuid4()}", _address(), _address()
    async with container.read() as conn:
        late = await voice.check_enter_community(conn, community_id, b, creating=False, caller_role="member",
                                                 profile=None, trust_caller=True)
    assert late.room is None
    first = await actions.enter_community(container.uow, container.media, community_id, a, creating=True,
                                          caller_role="owner", profile=None, trust_caller=True)
    spare = voice.MediaRoomMade(code=service.new_code(), backend="null", media_room="")
    async with container.uow() as uow:
        outcome = await voice.do_enter_community(uow, late, made=spare)
    assert outcome.room.id == first.room.id and outcome.made_room is False


async def test_entering_a_chat_that_ended_meanwhile_asks_for_a_new_one(container: Container) -> None:
    community_id, a = f"c-{uuid.uuid4()}", _address()
    made = await actions.enter_community(container.uow, container.media, community_id, a, creating=True,
                                         caller_role="owner", profile=None, trust_caller=True)
    async with container.read() as conn:
        entry = await voice.check_enter_community(conn, community_id, a, creating=False, caller_role="owner",
                                                  profile=None, trust_caller=True)
    await actions.end_community(container.uow, container.media, community_id, a, trust_caller=True)
    with pytest.raises(voice.RoomGone):
        async with container.uow() as uow:
            await voice.do_enter_community(uow, entry, made=None)
    again = await actions.enter_community(container.uow, container.media, community_id, a, creating=True,
                                          caller_role="owner", profile=None, trust_caller=True)
    assert again.room.id != made.room.id


async def test_a_media_server_that_is_down_leaves_no_voice_chat_behind(container: Container) -> None:
    community_id, a = f"c-{uuid.uuid4()}", _address()
    with pytest.raises(MediaFailed):
        await actions.enter_community(container.uow, FailingMedia("create_room"), community_id, a, creating=True,
                                      caller_role="owner", profile=None, trust_caller=True)
    assert await _live(container, COMMUNITY, community_id) is None
    media = FailingMedia("credentials")
    with pytest.raises(MediaFailed):
        await actions.enter_community(container.uow, media, community_id, a, creating=True, caller_role="owner",
                                      profile=None, trust_caller=True)
    # the user was taken out again; their chat ended with them and its media room is gone
    room_id = f"p-{uuid.uuid4()}"
    with pytest.raises(MediaFailed):
        await actions.create_private(container.uow, media, room_id, [_address(), _address()])
    assert await _live(container, VOICE_PRIVATE, room_id) is None
    assert len(media.destroyed) == 2
    assert await _live(container, COMMUNITY, community_id) is None


async def test_clubhouse_rooms_keep_their_presence_rules(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    async with container.uow() as uow:
        await service.do_media_event(uow, "joined", room.code, ada.id)
    assert (await part(container, room, ada)).status == JOINED  # type: ignore[union-attr]
    async with container.uow() as uow:  # a leave on purpose is still a drop with a grace period here
        assert await service.do_media_event(uow, "left", room.code, ada.id, voluntary=True) == []
    assert (await part(container, room, ada)).status == INTERRUPTED  # type: ignore[union-attr]
    async with container.read() as conn:
        assert (await service.presence(conn, [room.id]))[room.id] == (1, 1)
        later = now() + service.PRESENCE_TTL + timedelta(seconds=1)
        assert (await service.presence(conn, [room.id], at=later))[room.id] == (0, 0)


async def test_a_voice_participant_connected_is_never_swept_as_stale(container: Container) -> None:
    community_id, a = f"c-{uuid.uuid4()}", _address()
    entered = await actions.enter_community(container.uow, container.media, community_id, a, creating=True,
                                            caller_role="owner", profile=None, trust_caller=True)
    async with container.uow() as uow:
        await service.do_media_event(uow, "joined", entered.room.code, entered.participant.user_id)
    later = now() + timedelta(hours=2)
    async with container.uow() as uow:
        ended = await service.do_expire(uow, at=later)
    assert entered.room.id not in [r.id for r in ended]
    async with container.read() as conn:
        found = await service.participant(conn, entered.room.id, entered.participant.user_id)
        assert found is not None and found.status == CONNECTED
        assert await voice.is_in_voice_chat(conn, a, COMMUNITY, at=later)
    await actions.end_community(container.uow, container.media, community_id, a, trust_caller=True)


async def test_a_banned_user_gets_no_voice_credentials(container: Container) -> None:
    address = _address()
    async with container.uow() as uow:
        user_id = await voice.do_user_of_address(uow, address)
        await profiles.do_ban(uow, user_id, True)
    with pytest.raises(Forbidden):
        await actions.enter_community(container.uow, container.media, f"c-{uuid.uuid4()}", address, creating=False,
                                      caller_role=None, profile=None, trust_caller=True)


async def test_people_starting_one_communitys_chat_at_once_end_up_in_one_room(container: Container) -> None:
    community_id = f"c-{uuid.uuid4()}"
    media = FailingMedia()
    addresses = [_address() for _ in range(5)]
    entered = await asyncio.gather(*(
        actions.enter_community(container.uow, media, community_id, a, creating=True, caller_role="moderator",
                                profile=None, trust_caller=True) for a in addresses))
    assert len({e.room.id for e in entered}) == 1
    room = entered[0].room
    async with container.read() as conn:
        assert len(await service.participants(conn, room.id)) == 5
    assert room.code not in media.destroyed  # the spare media rooms, and only they, were dropped
    await actions.end_community(container.uow, container.media, community_id, addresses[0], trust_caller=True)
