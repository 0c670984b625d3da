"""Hands and speakers: raising, settings, speaker invitations, accepting, muting, moving back."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from townhall.container import Container
from townhall.core.clock import now
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.rooms import actions
from townhall.core.rooms import events as ev
from townhall.core.rooms import service as rooms
from townhall.core.rooms.models import LISTENER, SPEAKER
from townhall.core.social import notifications as notes
from townhall.core.social.tables import follows

from ..communities.factories import make_club, make_users, notifications_of
from .test_rooms_lifecycle import Recorder, create, join, part, roles


async def test_a_listener_raises_and_lowers_a_hand_and_speakers_hear_of_it(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    async with Recorder(container) as seen:
        async with container.uow() as uow:
            await rooms.do_raise_hand(uow, bob.id, room.code)
            await rooms.do_raise_hand(uow, bob.id, room.code)  # twice: one event
        async with container.uow() as uow:
            await rooms.do_lower_hand(uow, bob.id, room.code)
    assert [e.member.user_id for e in seen.of(ev.HandRaised)] == [bob.id]
    assert [e.user_id for e in seen.of(ev.HandLowered)] == [bob.id]
    async with container.uow() as uow:
        with pytest.raises(Forbidden):
            await rooms.do_raise_hand(uow, ada.id, room.code)  # a speaker already


async def test_handraise_settings_limit_who_may_raise(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    await join(container, cat, room)
    async with container.uow() as uow:
        await rooms.do_raise_hand(uow, cat.id, room.code)
    async with Recorder(container) as seen:
        async with container.uow() as uow:
            await rooms.do_change_handraise_settings(uow, ada.id, room.code, is_enabled=False, permission=1)
    assert [(e.is_enabled, e.handraise_permission) for e in seen.of(ev.HandraiseSettingsChanged)] == [(False, 1)]
    assert [e.user_id for e in seen.of(ev.HandLowered)] == [cat.id]  # hands come down
    async with container.uow() as uow:
        with pytest.raises(Forbidden):
            await rooms.do_raise_hand(uow, bob.id, room.code)
    async with container.uow() as uow:
        await rooms.do_change_handraise_settings(uow, ada.id, room.code, is_enabled=True, permission=2)
    async with container.uow() as uow:
        with pytest.raises(Forbidden):  # nobody speaking follows bob
            await rooms.do_raise_hand(uow, bob.id, room.code)
    async with container.uow() as uow:
        await uow.conn.execute(insert(follows).values(follower_id=ada.id, followee_id=bob.id, notification_type=2,
                                                      created_at=now()))
    async with container.uow() as uow:
        await rooms.do_raise_hand(uow, bob.id, room.code)
    async with container.uow() as uow:
        with pytest.raises(Invalid):  # 3 needs a club room
            await rooms.do_change_handraise_settings(uow, ada.id, room.code, is_enabled=True, permission=3)
        with pytest.raises(Invalid):
            await rooms.do_change_handraise_settings(uow, ada.id, room.code, is_enabled=True, permission=9)
        with pytest.raises(Forbidden):
            await rooms.do_change_handraise_settings(uow, bob.id, room.code, is_enabled=True, permission=1)


async def test_club_member_hands_only_in_a_club_room(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    club = await make_club(container, ada, members=[bob])
    room = (await create(container, ada, club_id=club.id)).room
    async with container.uow() as uow:
        await rooms.do_set_kind(uow, ada.id, room.code, "open")
    await join(container, bob, room)
    await join(container, cat, room)
    async with container.uow() as uow:
        await rooms.do_change_handraise_settings(uow, ada.id, room.code, is_enabled=True, permission=3)
    async with container.uow() as uow:
        await rooms.do_raise_hand(uow, bob.id, room.code)
    async with container.uow() as uow:
        with pytest.raises(Forbidden):
            await rooms.do_raise_hand(uow, cat.id, room.code)


async def test_an_invited_listener_accepts_and_speaks(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    await join(container, cat, room)
    with pytest.raises(Forbidden):
        await actions.accept_speaker_invite(container.uow, container.media, bob.id, room.code)
    async with Recorder(container) as seen:
        async with container.uow() as uow:
            await rooms.do_raise_hand(uow, bob.id, room.code)
            await rooms.do_invite_speaker(uow, ada.id, room.code, bob.id)
        entered = await actions.accept_speaker_invite(container.uow, container.media, bob.id, room.code)
    assert [(e.topic, e.from_name) for e in seen.of(ev.SpeakerInvited)] == [(f"user:{bob.id}", "ada")]
    assert [e.member.user_id for e in seen.of(ev.SpeakerAdded)] == [bob.id]
    assert entered.credentials.can_publish is True and entered.participant.role == SPEAKER
    p = await part(container, room, bob)
    assert p is not None and not p.hand_raised and not p.invited_to_speak and p.speaker_since is not None
    # a retried accept answers the same
    again = await actions.accept_speaker_invite(container.uow, container.media, bob.id, room.code)
    assert again.participant.role == SPEAKER
    async with container.uow() as uow:
        with pytest.raises(Forbidden):  # a listener cannot invite
            await rooms.do_invite_speaker(uow, cat.id, room.code, ada.id)
        with pytest.raises(Invalid):
            await rooms.do_invite_speaker(uow, ada.id, room.code, bob.id)  # already speaking
        with pytest.raises(NotFound):
            await rooms.do_invite_speaker(uow, ada.id, room.code, 2**40)


async def test_rejecting_or_uninviting_withdraws_the_invitation(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    async with container.uow() as uow:
        await rooms.do_invite_speaker(uow, ada.id, room.code, bob.id)
    async with container.uow() as uow:
        await rooms.do_reject_speaker_invite(uow, bob.id, room.code)
    with pytest.raises(Forbidden):
        await actions.accept_speaker_invite(container.uow, container.media, bob.id, room.code)
    async with container.uow() as uow:
        await rooms.do_invite_speaker(uow, ada.id, room.code, bob.id)
    async with Recorder(container) as seen:
        await actions.uninvite_speaker(container.uow, container.media, ada.id, room.code, bob.id)
    assert [e.user_id for e in seen.of(ev.SpeakerUninvited)] == [bob.id]
    assert not (await part(container, room, bob)).invited_to_speak  # type: ignore[union-attr]


async def test_a_speaker_moved_back_to_the_audience_stops_publishing(container: Container) -> None:
    ada, bob = await make_users(container, "ada", "bob")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    async with container.uow() as uow:
        await rooms.do_invite_speaker(uow, ada.id, room.code, bob.id)
    await actions.accept_speaker_invite(container.uow, container.media, bob.id, room.code)
    await container.media.simulate_join(room.code, str(bob.id))  # type: ignore[attr-defined]
    async with Recorder(container) as seen:
        await actions.uninvite_speaker(container.uow, container.media, ada.id, room.code, bob.id)
    assert [e.user_id for e in seen.of(ev.SpeakerRemoved)] == [bob.id]
    assert (await roles(container, room))[bob.id] == LISTENER
    assert [p.muted for p in await container.media.participants(room.code)] == [True]
    with pytest.raises(Forbidden):  # the last moderator stays one
        await actions.uninvite_speaker(container.uow, container.media, ada.id, room.code, ada.id)


async def test_moderators_mute_speakers_and_speakers_unmute_themselves(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada)).room
    await join(container, bob, room)
    await join(container, cat, room)
    async with container.uow() as uow:
        await rooms.do_invite_speaker(uow, ada.id, room.code, bob.id)
    await actions.accept_speaker_invite(container.uow, container.media, bob.id, room.code)
    with pytest.raises(Invalid):  # cat does not speak
        await actions.set_muted(container.uow, container.media, ada.id, room.code, cat.id, True)
    with pytest.raises(Forbidden):
        await actions.set_muted(container.uow, container.media, cat.id, room.code, bob.id, True)
    async with Recorder(container) as seen:
        await actions.set_muted(container.uow, container.media, ada.id, room.code, bob.id, True)
    assert [(e.topic, e.user_id) for e in seen.of(ev.SpeakerMuted)] == [(f"user:{bob.id}", bob.id)]
    assert (await part(container, room, bob)).muted  # type: ignore[union-attr]
    await actions.set_muted(container.uow, container.media, bob.id, room.code, bob.id, False)
    assert not (await part(container, room, bob)).muted  # type: ignore[union-attr]


async def test_room_invitations_notify_and_are_answered_by_the_invitee_only(container: Container) -> None:
    ada, bob, cat = await make_users(container, "ada", "bob", "cat")
    room = (await create(container, ada, is_private=True)).room
    async with Recorder(container) as seen:
        async with container.uow() as uow:
            invite_id = await rooms.do_invite_to_room(uow, ada.id, room.code, bob.id, new=True)
    assert [(e.topic, e.channel_invite_id) for e in seen.of(ev.RoomInvite)] == [(f"user:{bob.id}", invite_id)]
    assert (notes.INVITED_TO_ROOM, ada.id, None) in await notifications_of(container, bob)
    async with container.uow() as uow:
        with pytest.raises(NotFound):
            await rooms.do_answer_invite(uow, cat.id, invite_id, accept=True)
        with pytest.raises(NotFound):
            await rooms.do_cancel_invite(uow, cat.id, invite_id)
        assert (await rooms.do_answer_invite(uow, bob.id, invite_id, accept=True)).code == room.code
    async with container.uow() as uow:
        with pytest.raises(Forbidden):  # only moderators invite to a private room
            await rooms.do_invite_to_room(uow, cat.id, room.code, ada.id)
    second = None
    async with container.uow() as uow:
        second = await rooms.do_invite_to_room(uow, ada.id, room.code, cat.id)
    async with container.uow() as uow:
        await rooms.do_cancel_invite(uow, ada.id, second)
    async with container.uow() as uow:
        with pytest.raises(Invalid):
            await rooms.do_answer_invite(uow, cat.id, second, accept=True)
