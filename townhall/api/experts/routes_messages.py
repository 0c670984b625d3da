"""Experts surface routes: direct messages (Clarity ``/v1/messages``), which are chat: the distinct
two-member messaging channel a Stream client sees (core/experts/messages.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from townhall.api.experts import render
from townhall.api.experts.errors import ExpertsError
from townhall.api.experts.http import MemberLimits, container_of, json_response, member_within, params
from townhall.api.experts.routes_members import Me
from townhall.core.errors import Invalid
from townhall.core.experts import members
from townhall.core.experts import messages as direct
from townhall.core.fields import check_positive_id

router = APIRouter(tags=["messages"])
# The caller, counted against their messages a minute (experts.messages_per_minute).
Sender = Annotated[int, Depends(member_within(MemberLimits.MESSAGE))]

CHAT_DOC = (
    "A conversation is the chat surface's distinct channel of the two members (type `messaging`, members "
    "[a, b], no id), so Stream clients see the same messages and unread counts. A message object: "
    "`created_at`, `message` (its text), `member_id` (who wrote it), `read` (the member it was sent to has "
    "read it)."
)


def _other(member_id: str) -> int:
    try:
        return check_positive_id(member_id, "member_id")
    except Invalid as exc:
        raise ExpertsError(404, "not_found", members.NO_SUCH_MEMBER) from exc


@router.get("/messages", summary="My conversations", description=CHAT_DOC + (
    " Each: `unread_message_count` (my unread messages in it), `last_message`, `other_member` (a brief member); "
    f"the most recent first, `limit` (at most {direct.MAX_CONVERSATIONS}) and `offset` paged."))
async def list_conversations(
    request: Request, me: Me,
    limit: Annotated[int, Query(ge=1, le=direct.MAX_CONVERSATIONS)] = direct.MAX_CONVERSATIONS,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    base_url = container_of(request).settings.base_url()
    async with container_of(request).read() as conn:
        found = await direct.conversations(conn, me, limit=limit, offset=offset)
        others = await members.get_members(conn, [c.other_member_id for c in found])
    return json_response([render.conversation(c, others[c.other_member_id], base_url)
                          for c in found if c.other_member_id in others])


@router.get("/messages/{member_id}", summary="The last messages between me and a member",
            description=CHAT_DOC + f" The last {direct.HISTORY}, newest first, `read` as it was before this "
                                   "call; reading them marks the conversation read (for chat too).")
async def get_conversation(request: Request, me: Me, member_id: str) -> Response:
    other_id = _other(member_id)
    container = container_of(request)
    async with container.read() as conn:
        found = await direct.conversation(conn, me, other_id)
        other = await members.access_member(conn, other_id, viewer_id=me)
    if found:
        async with container.uow() as uow:
            await direct.do_mark_conversation_read(uow, me, other_id)
    return json_response({"other_member": render.brief_member(other, container.settings.base_url()),
                          "messages": [render.message(m) for m in found]})


@router.post("/messages/{member_id}", summary="Send a message to a member", status_code=201,
             description=CHAT_DOC + " Parameter (query, form or JSON): `message`, the text (at most the chat "
                                    "channel type's max_message_length, 5000 by default). Answers the new "
                                    "message object. At most `experts.messages_per_minute` (60) a minute per member: "
                                    "past it, 429 `rate_limited` with `Retry-After`.",
             openapi_extra={"requestBody": {"required": False, "content": {
                 media: {"schema": {"type": "object", "properties": {"message": {"type": "string"}}}}
                 for media in ("application/x-www-form-urlencoded", "application/json")}}})
async def send_message(request: Request, me: Sender, member_id: str) -> Response:
    other_id = _other(member_id)
    given: dict[str, Any] = await params(request)
    text = given.get("message")
    if not isinstance(text, str) or not text.strip():
        raise ExpertsError(400, "invalid_request", "message is required: the text to send.")
    async with container_of(request).uow() as uow:
        sent = await direct.do_send(uow, me, other_id, text)
    return json_response(render.message(sent), 201)
