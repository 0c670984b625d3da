"""Who may see, join and moderate a room: private and social rooms, blocks, removal, moderators."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from townhall.container import Container
from townhall.core.clock import now
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.rooms import actions
from townhall.core.rooms import events as ev
from townhall.core.rooms import permissions as perm
from townhall.core.rooms import service as rooms
from townhall.core.rooms.models import LISTENER, MODERATOR, OPEN, PRIVATE, REMOVED, SOCIAL, SPEAKER, Standing
from townhall.core.social.tables import blocks, follows

from ..communities.factories import make_users
from .test_rooms_lifecycle import Recorder, create, current, join, part, roles


async def visible(container: Container, user_id: int) -> set[str]:
    async with container.read() as conn:
        found, _ = await rooms.visible_rooms(conn, user_id, limit=200, offset=0)
    return {r.code for r in found}


async def test_private_rooms_are_only_for_the_invited(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada, is_private=True, user_ids=[bob.id])).room
    assert room.kind == PRIVATE
    assert room.code in await visible(container, bob.id) and room.code not in await visible(container, cat.id)
    with pytest.raises(NotFound):
        await join(container, cat, room)
    assert (await join(container, bob, room)).participant.role == LISTENER
    # an invitation lets cat in
    async with container.uow() as uow:
        await rooms.do_invite_to_room(uow, ada.id, room.code, cat.id)
    assert (await join(container, cat, room)).participant.role == LISTENER


async def test_social_rooms_are_for_the_creators_followers(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    async with container.uow() as uow:
        await uow.conn.execute(insert(follows).values(follower_id=bob.id, followee_id=ada.id, notification_type=2,
                                                      created_at=now()))
    room = (await create(container, ada, is_social_mode=True)).room
    assert room.kind == SOCIAL
    assert room.code in await visible(container, bob.id) and room.code not in await visible(container, cat.id)
    with pytest.raises(NotFound):
        await join(container, cat, room)
    await join(container, bob, room)
    async with container.uow() as uow:
        with pytest.raises(Forbidden):
            await rooms.do_set_kind(uow, bob.id, room.code, OPEN)
        assert (await rooms.do_set_kind(uow, ada.id, room.code, OPEN)).kind == OPEN
    async with container.uow() as uow:
        with pytest.raises(Invalid):
            await rooms.do_set_kind(uow, ada.id, room.code, SOCIAL)
    assert room.code in await visible(container, cat.id)


async def test_users_who_blocked_the_creator_or_were_blocked_cannot_join(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    async with container.uow() as uow:
        await uow.conn.execute(insert(blocks).values(blocker_id=ada.id, blocked_id=bob.id, created_at=now()))
    room = (await create(container, ada)).room
    assert room.code not in await visible(container, bob.id)
    with pytest.raises(Forbidden):
        await join(container, bob, room)


async def test_a_user_blocked_from_a_room_is_removed_and_cannot_come_back(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    await join(container, cat, room)
    with pytest.raises(Forbidden):  # listeners do not moderate
        await actions.remove(container.uow, container.media, cat.id, room.code, bob.id, block=True)
    async with Recorder(container) as seen:
        await actions.remove(container.uow, container.media, ada.id, room.code, bob.id, block=True)
    assert [(e.topic, e.blocked) for e in seen.of(ev.RemovedFromRoom)] == [(f"user:{bob.id}", True)]
    assert [e.reason for e in seen.of(ev.UserLeft)] == ["blocked"]
    assert (await part(container, room, bob)).status == REMOVED  # type: ignore[union-attr]
    with pytest.raises(Forbidden):
        await join(container, bob, room)
    assert room.code not in await visible(container, bob.id)
    async with container.uow() as uow:
        assert await rooms.do_ping(uow, bob.id, room.code) is True  # should_leave


async def test_moderators_cannot_remove_themselves_or_the_creator(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    async with container.uow() as uow:
        await rooms.do_make_moderator(uow, ada.id, room.code, bob.id)
    with pytest.raises(Forbidden):
        await actions.remove(container.uow, container.media, bob.id, room.code, ada.id, block=True)
    with pytest.raises(Invalid):
        await actions.remove(container.uow, container.media, bob.id, room.code, bob.id, block=False)


async def test_make_moderator_needs_a_moderator_and_a_target_in_the_room(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    with pytest.raises(Forbidden):
        await actions.make_moderator(container.uow, container.media, bob.id, room.code, bob.id)
    with pytest.raises(NotFound):
        await actions.make_moderator(container.uow, container.media, ada.id, room.code, cat.id)
    await actions.make_moderator(container.uow, container.media, ada.id, room.code, bob.id)
    assert (await roles(container, room))[bob.id] == MODERATOR
    # a listener made moderator may speak on the media server
    await container.media.simulate_join(room.code, str(bob.id))  # type: ignore[attr-defined]
    assert [p.muted for p in await container.media.participants(room.code)] == [False]


def test_the_rules_decide_from_room_role_and_club_role() -> None:
    from townhall.core.rooms.models import CLUB, Participant, Room

    at = now()
    room = Room(id=1, code="abc", kind=CLUB, topic=None, club_id=5, event_id=None, creator_id=1,
                is_handraise_enabled=True, handraise_permission=1, media_backend="null", media_room="abc",
                ended_at=None, created_at=at)

    def standing(role: str | None, **kw: bool) -> Standing:
        p = None if role is None else Participant(1, 2, role, "joined", False, False, False, "t", at, None, at)
        return Standing(user_id=2, participant=p, **kw)

    assert perm.may_moderate(room, standing(MODERATOR))
    assert perm.may_moderate(room, standing(LISTENER, is_club_admin=True))
    assert not perm.may_moderate(room, standing(None, is_club_admin=True))  # must be in the room
    assert not perm.may_moderate(room, standing(SPEAKER, is_club_member=True))
    assert perm.may_see(room, standing(None, is_club_member=True))
    assert not perm.may_see(room, standing(None))
    with pytest.raises(Forbidden):
        perm.check_join(room, standing(None, is_club_member=True, is_blocked_from_room=True))


async def test_the_room_state_is_kept_when_listing(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    async with container.read() as conn:
        assert (await rooms.counts(conn, [room.id]))[room.id] == (2, 1)
        assert (await rooms.rooms_of_users(conn, ada.id, [bob.id]))[bob.id].code == room.code
    assert (await current(container, room)).is_live
