"""Who may be sent to a large room's one-way stream (Janus Streaming): only the listeners of Clubhouse
rooms, whose clients ping. Stream listeners are never reported as connected and cannot be kicked or
promoted in place, so voice rooms (presence = the media connection) and moderators stay off it."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from tests.core.communities.factories import make_users
from townhall.container import Container
from townhall.core.rooms import actions
from townhall.media.base import JoinCredentials
from townhall.media.null import NullMediaBackend


class StreamingMedia(NullMediaBackend):
    """A media server with a stream: records what each credentials request allowed."""

    def __init__(self) -> None:
        super().__init__()
        self.allowed: dict[str, bool] = {}

    async def credentials(self, room_id: str, user_id: str, *, can_publish: bool,
                          allow_stream: bool = True, **_: Any) -> JoinCredentials:
        self.allowed[user_id] = allow_stream
        return await super().credentials(room_id, user_id, can_publish=can_publish)


async def test_clubhouse_listeners_may_be_streamed_and_their_moderators_never(container: Container) -> None:
    media = StreamingMedia()
    ada, bob = await make_users(container, "ada", "bob")
    room = (await actions.create(container.uow, media, ada.id)).room
    await actions.join(container.uow, media, bob.id, room.code)
    assert media.allowed == {str(ada.id): False, str(bob.id): True}


async def test_voice_chat_listeners_are_never_streamed(container: Container) -> None:
    media = StreamingMedia()
    community_id, owner, member = f"c-{uuid.uuid4()}", "0x" + secrets.token_hex(20), "0x" + secrets.token_hex(20)
    for address, role in ((owner, "owner"), (member, "member")):
        entered = await actions.enter_community(container.uow, media, community_id, address, creating=role == "owner",
                                                caller_role=role, profile=None, trust_caller=True)
        assert entered.credentials.can_publish is (role == "owner")
    private = await actions.create_private(container.uow, media, f"p-{uuid.uuid4()}",
                                           ["0x" + secrets.token_hex(20), "0x" + secrets.token_hex(20)])
    assert len(private) == 2
    assert len(media.allowed) == 4 and not any(media.allowed.values())
