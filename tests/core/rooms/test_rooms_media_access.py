"""The media server asks room state who may be in a room and who may be heard there
(``actions.access_checks``, handed to ``MediaBackend.set_access``): every process answers alike."""

from __future__ import annotations

from townhall.container import Container
from townhall.core.rooms import actions
from townhall.core.rooms import service as rooms

from ..communities.factories import make_users
from .test_rooms_lifecycle import create, join


async def test_participants_may_join_only_speakers_may_be_heard_and_nobody_once_they_leave(
    container: Container,
) -> None:
    ann, bob, cat = await make_users(container, "ann", "bob", "cat")
    may_join, may_publish = actions.access_checks(container.read)
    room = (await create(container, ann)).room
    await join(container, bob, room)
    code = room.code

    assert await may_join(code, str(ann.id)) and await may_publish(code, str(ann.id))
    assert await may_join(code, str(bob.id)) and not await may_publish(code, str(bob.id))
    assert not await may_join(code, str(cat.id))

    async with container.uow() as uow:
        await rooms.do_invite_speaker(uow, ann.id, code, bob.id)
    await actions.accept_speaker_invite(container.uow, container.media, bob.id, code)
    assert await may_publish(code, str(bob.id))

    await actions.set_muted(container.uow, container.media, ann.id, code, bob.id, True)
    assert not await may_publish(code, str(bob.id))

    await actions.leave(container.uow, container.media, bob.id, code)
    assert not await may_join(code, str(bob.id))


async def test_an_ended_or_unknown_room_admits_nobody(container: Container) -> None:
    (ann,) = await make_users(container, "ann")
    may_join, may_publish = actions.access_checks(container.read)
    room = (await create(container, ann)).room
    await actions.end(container.uow, container.media, ann.id, room.code)

    assert not await may_join(room.code, str(ann.id))
    assert not await may_publish(room.code, str(ann.id))
    assert not await may_join("nosuchroom", str(ann.id))
    assert not await may_join(room.code, "not-a-user-id")
