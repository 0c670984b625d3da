"""Forum events. Each names the webhook event it is delivered as (``webhook``) and the entities it
carries; whatever unit of work records one writes it to the outbox before it commits
(``townhall.jobs.outbox``, registered at the end of this module)."""

from __future__ import annotations

from typing import Any, ClassVar

from townhall.core.events import Event
from townhall.core.forum import payloads
from townhall.core.forum.models import Comment, Post, Profile, Reply
from townhall.core.uow import UnitOfWork
from townhall.jobs import outbox, webhooks

FORUM_TOPIC = "forum"
SURFACE = "forum"  # the surface whose webhook subscriptions get these events


class ForumEvent(Event):
    webhook: ClassVar[str] = ""
    topic: str = FORUM_TOPIC

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        """What the webhook carries (``{"<type>": [<the thing as the API shows it>]}``)."""
        raise NotImplementedError(f"no webhook shape for {self.type}")


class MemberJoined(ForumEvent):
    type = "forum.member.joined"
    webhook = "member.joined"
    user: Profile

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"user": [payloads.user(self.user, None)]}


class MemberJoinedWaitlist(ForumEvent):
    type = "forum.member.joined_waitlist"
    webhook = "member.joined_waitlist"
    user: Profile

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"user": [payloads.user(self.user, None)]}


class PostCreated(ForumEvent):
    type = "forum.post.created"
    webhook = "post.created"
    post: Post

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"post": [payloads.post(self.post)]}


class PostUpdated(ForumEvent):
    type = "forum.post.updated"
    webhook = "post.updated"
    post: Post

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"post": [payloads.post(self.post)]}


class PostApproved(ForumEvent):
    type = "forum.post.approved"
    webhook = "post.approved"
    post: Post

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"post": [payloads.post(self.post)]}


class CommentCreated(ForumEvent):
    type = "forum.comment.created"
    webhook = "comment.created"
    comment: Comment

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"comment": [payloads.comment(self.comment)]}


class CommentUpdated(ForumEvent):
    type = "forum.comment.updated"
    webhook = "comment.updated"
    comment: Comment

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"comment": [payloads.comment(self.comment)]}


class ReplyCreated(ForumEvent):
    type = "forum.reply.created"
    webhook = "reply.created"
    reply: Reply

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"reply": [payloads.reply(self.reply)]}


class ReplyUpdated(ForumEvent):
    type = "forum.reply.updated"
    webhook = "reply.updated"
    reply: Reply

    def entities(self) -> dict[str, list[dict[str, Any]]]:
        return {"reply": [payloads.reply(self.reply)]}


WEBHOOK_EVENTS: tuple[str, ...] = tuple(
    cls.webhook for cls in (MemberJoined, MemberJoinedWaitlist, PostCreated, PostUpdated, PostApproved,
                            CommentCreated, CommentUpdated, ReplyCreated, ReplyUpdated)
)


async def write_webhooks(uow: UnitOfWork, event: Event) -> int:
    """A forum event, for every forum subscription that wants it, in the unit's transaction."""
    assert isinstance(event, ForumEvent)
    if not event.webhook:
        return 0
    return await webhooks.enqueue(uow, SURFACE, event.webhook, payloads.drop_nulls(event.entities()))


outbox.register(ForumEvent, write_webhooks)
