"""Communities townhall knows: their own roles decide who starts, moderates and ends their voice
chat (owner: the community's creator; moderator: an admin), unless the caller's roles are trusted
(``voice.trust_caller_roles``, as the reference service does)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from tests.api.voice.conftest import enter, new_address, status, user_id_of
from tests.core.communities.factories import make_club
from townhall.container import Container
from townhall.core.communities import service as clubs
from townhall.core.errors import Forbidden
from townhall.core.rooms import actions, service, voice
from townhall.core.rooms.models import COMMUNITY, LISTENER, MODERATOR


async def _community(container: Container) -> tuple[str, str, str, str]:
    """A townhall community (its id as the voice caller names it), its creator, an admin, a member."""
    owner, admin, member = new_address(), new_address(), new_address()
    async with container.uow() as uow:
        ids = [await voice.do_user_of_address(uow, a.lower()) for a in (owner, admin, member)]
    club = await make_club(container, SimpleNamespace(id=ids[0]),  # type: ignore[arg-type]
                           members=[SimpleNamespace(id=ids[1]), SimpleNamespace(id=ids[2])])  # type: ignore[list-item]
    async with container.uow() as uow:
        await clubs.do_add_admin(uow, ids[0], club.id, ids[1])
    return str(club.id), owner, admin, member


async def _role(container: Container, community_id: str, address: str) -> tuple[str, str | None]:
    async with container.read() as conn:
        room = await voice.live_room(conn, COMMUNITY, community_id)
        assert room is not None
        part = await service.participant(conn, room.id, await user_id_of(container, address))
    assert part is not None
    return part.role, part.community_role


async def test_a_known_communitys_roles_are_its_own_not_the_callers(voice_http: httpx.AsyncClient,
                                                                    container: Container) -> None:
    community_id, owner, admin, member = await _community(container)
    refused = await enter(voice_http, community_id, member, action="create", role="owner")
    assert (refused.status_code, refused.json()) == (
        401, {"error": "Only the community's owner and moderators can start its voice chat"})
    assert (await status(voice_http, community_id))["active"] is False
    assert (await enter(voice_http, community_id, admin, action="create", role="member")).status_code == 200
    assert await _role(container, community_id, admin) == (MODERATOR, "moderator")
    assert (await enter(voice_http, community_id, owner, role="none")).status_code == 200
    assert await _role(container, community_id, owner) == (LISTENER, "owner")
    assert (await enter(voice_http, community_id, member, role="owner")).status_code == 200
    assert await _role(container, community_id, member) == (LISTENER, "member")
    assert await status(voice_http, community_id) == {"active": True, "participant_count": 3, "moderator_count": 2}
    async with container.read() as conn:
        room = await voice.live_room(conn, COMMUNITY, community_id)
    assert room is not None and room.club_id == int(community_id)


async def test_only_a_known_communitys_moderators_end_its_chat(voice_http: httpx.AsyncClient,
                                                               container: Container) -> None:
    community_id, owner, admin, member = await _community(container)
    await enter(voice_http, community_id, admin, action="create")
    url = f"/community-voice-chat/{community_id}"
    for who in (member, new_address()):
        answer = await voice_http.request("DELETE", url, json={"user_address": who})
        assert (answer.status_code, answer.json()) == (
            401, {"error": "Only the community's owner and moderators can end its voice chat"})
    assert (await status(voice_http, community_id))["active"] is True
    assert (await voice_http.request("DELETE", url, json={"user_address": owner})).status_code == 200
    assert (await status(voice_http, community_id))["active"] is False


async def test_trusting_the_caller_takes_its_roles_even_for_a_known_community(container: Container) -> None:
    community_id, _, _, member = await _community(container)
    with pytest.raises(Forbidden):
        await actions.enter_community(container.uow, container.media, community_id, member, creating=True,
                                      caller_role="moderator", profile=None, trust_caller=False)
    entered = await actions.enter_community(container.uow, container.media, community_id, member, creating=True,
                                            caller_role="moderator", profile=None, trust_caller=True)
    assert (entered.participant.role, entered.participant.community_role) == (MODERATOR, "moderator")
    ended = await actions.end_community(container.uow, container.media, community_id, new_address(),
                                        trust_caller=True)
    assert ended is not None and ended.code == entered.room.code
    async with container.read() as conn:
        assert await voice.live_room(conn, COMMUNITY, community_id) is None
