"""Messages, threads, reactions and search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from townhall.api.chat import render
from townhall.api.chat.http import (
    actor_of,
    container_of,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    json_body,
    payload_param,
    respond,
)
from townhall.core import filters
from townhall.core.chat import channels, history, messages, reactions
from townhall.core.chat import search as chat_search
from townhall.core.chat.channels import Page
from townhall.core.chat.messages import MESSAGE_RESERVED, MessageInput
from townhall.core.chat.models import MessageView, Users
from townhall.core.chat.permissions import Action, Actor
from townhall.core.chat.views import load_users
from townhall.core.clock import parse_time
from townhall.core.errors import Invalid
from townhall.core.pagination import Cursor

router = APIRouter(tags=["messages"])


def _message_payload(request: Request, view: MessageView, users: Users) -> dict[str, Any]:
    return render.message(view, users, request.app.state.hub.is_online)


def _mentioned(msg: dict[str, Any]) -> list[str]:
    out = []
    for item in get_list(msg, "mentioned_users"):
        item = item.get("id") if isinstance(item, dict) else item
        if not isinstance(item, str):
            raise Invalid("invalid_field", "mentioned_users must list user ids")
        out.append(item)
    return out


def _time(value: Any, field: str) -> Any:
    if value is None:
        return None
    try:
        return parse_time(value)
    except (ValueError, TypeError) as exc:
        raise Invalid("invalid_field", f"{field} must be an RFC 3339 time") from exc


def message_input(msg: dict[str, Any]) -> MessageInput:
    text = msg.get("text", "")
    if text is None:
        text = ""
    return MessageInput(
        id=get_str(msg, "id"), text=text, type=get_str(msg, "type", "regular") or "regular",
        parent_id=get_str(msg, "parent_id"), show_in_channel=get_bool(msg, "show_in_channel"),
        quoted_message_id=get_str(msg, "quoted_message_id"), attachments=get_list(msg, "attachments"),
        mentioned_chat_ids=_mentioned(msg),
        custom={k: v for k, v in msg.items() if k not in MESSAGE_RESERVED},
        pinned=get_bool(msg, "pinned"), pin_expires=_time(msg.get("pin_expires"), "pin_expires"),
        silent=get_bool(msg, "silent"), html=get_str(msg, "html", "") or "",
        restricted_visibility=msg.get("restricted_visibility"),
    )


@router.post("/channels/{type_name}/{channel_id}/message", name="SendMessage")
async def send_message(request: Request, type_name: str, channel_id: str) -> Response:
    data = await json_body(request)
    msg = get_dict(data, "message")
    if not msg:
        raise Invalid("missing_message", "message is a required field")
    draft = message_input(msg)
    actor, sender = await actor_of(request, {**msg, **data}, required=True)
    assert sender is not None
    async with container_of(request).uow(shared=True) as uow:
        plan = await messages.check_send(uow.conn, actor, sender, f"{type_name}:{channel_id}", draft,
                                         contexts=request.app.state.contexts)
        view, users, _ = await messages.do_send(uow, plan)
    return respond(request, {"message": _message_payload(request, view, users)}, 201)


@router.get("/messages/{message_id}", name="GetMessage")
async def get_message(request: Request, message_id: str) -> Response:
    actor, _ = await actor_of(request, dict(request.query_params), required=False)
    async with container_of(request).read() as conn:
        views, users = await messages.get_views(conn, actor, [message_id])
    return respond(request, {"message": _message_payload(request, views[0], users)})


@router.get("/channels/{type_name}/{channel_id}/messages", name="GetManyMessages")
async def get_many_messages(request: Request, type_name: str, channel_id: str) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids or len(ids) > 100:
        raise Invalid("invalid_ids", "ids must list 1 to 100 message ids")
    actor, _ = await actor_of(request, dict(request.query_params), required=False)
    async with container_of(request).read() as conn:
        channel, _, _ = await channels.access(conn, actor, f"{type_name}:{channel_id}", Action.READ_CHANNEL)
        views, users = await messages.get_views(conn, actor, ids, channel)
    return respond(request, {"messages": [_message_payload(request, v, users) for v in views]})


async def _edit(request: Request, message_id: str, changes: dict[str, Any], unset: list[str],
                replace: bool, data: dict[str, Any]) -> Response:
    actor, user = await actor_of(request, data, required=False)
    if "mentioned_users" in changes:
        changes["mentioned_chat_ids"] = _mentioned(changes)
    if "pin_expires" in changes:
        changes["pin_expires"] = _time(changes["pin_expires"], "pin_expires")
    async with container_of(request).uow() as uow:
        view, users = await messages.edit(uow, actor, message_id, changes, unset=unset, replace=replace,
                                          acting_user=user)
    return respond(request, {"message": _message_payload(request, view, users)}, 201)


@router.post("/messages/history", name="QueryMessageHistory")
async def query_message_history(request: Request) -> Response:
    """Declared before ``POST /messages/{message_id}``, which would take "history" for an id."""
    data = await json_body(request)
    actor, _ = await actor_of(request, data, required=False)
    limit = get_int(data, "limit", 10, lo=0, hi=history.MAX_LIMIT)
    sort = filters.parse_sort(data.get("sort"))
    offset = 0
    if cursor := get_str(data, "next") or get_str(data, "prev"):
        page = Cursor.decode(cursor)
        offset, sort = page.offset, sort or page.sort
    async with container_of(request).read() as conn:
        entries, users = await history.query(conn, actor, get_dict(data, "filter"), sort,
                                             limit=limit, offset=offset)
    out: dict[str, Any] = {"message_history": [render.history_entry(e, users) for e in entries]}
    if limit and len(entries) == limit:  # a full page offers a next one
        out["next"] = Cursor(offset + limit, sort).encode()
    if offset:
        out["prev"] = Cursor(max(0, offset - limit), sort).encode()
    return respond(request, out, 201)


@router.post("/messages/{message_id}", name="UpdateMessage")
async def update_message(request: Request, message_id: str) -> Response:
    data = await json_body(request)
    msg = get_dict(data, "message")
    if not msg:
        raise Invalid("missing_message", "message is a required field")
    if msg.get("id", message_id) != message_id:
        raise Invalid("invalid_message_id", "message.id does not match the URL")
    changes = {k: v for k, v in msg.items() if k not in ("id", "user", "user_id")}
    changes.setdefault("text", "")
    return await _edit(request, message_id, changes, [], True, {**msg, **data})


@router.put("/messages/{message_id}", name="UpdateMessagePartial")
async def update_message_partial(request: Request, message_id: str) -> Response:
    data = await json_body(request)
    unset = get_list(data, "unset")
    if not all(isinstance(k, str) for k in unset):
        raise Invalid("invalid_field", "unset must list field names")
    return await _edit(request, message_id, get_dict(data, "set"), unset, False, data)


@router.delete("/messages/{message_id}", name="DeleteMessage")
async def delete_message(request: Request, message_id: str) -> Response:
    q = dict(request.query_params)
    body = await json_body(request)
    actor, _ = await actor_of(request, {"user_id": q.get("deleted_by"), **body}, required=False)
    hard = q.get("hard") in ("true", "1") or get_bool(body, "hard")
    async with container_of(request).uow() as uow:
        view, users = await messages.delete_message(uow, actor, message_id, hard=hard)
    return respond(request, {"message": _message_payload(request, view, users)})


@router.post("/messages/{message_id}/undelete", name="UndeleteMessage")
async def undelete_message(request: Request, message_id: str) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, {"user_id": data.get("undeleted_by"), **data}, required=False)
    async with container_of(request).uow() as uow:
        view, users = await messages.undelete(uow, actor, message_id)
    return respond(request, {"message": _message_payload(request, view, users)}, 201)


@router.get("/messages/{parent_id}/replies", name="GetReplies")
async def get_replies(request: Request, parent_id: str) -> Response:
    q = dict(request.query_params)
    actor, _ = await actor_of(request, q, required=False)
    page = Page(limit=get_int(q, "limit", 25, lo=0, hi=300), offset=get_int(q, "offset", 0, lo=0, hi=10_000),
                id_lt=q.get("id_lt"), id_lte=q.get("id_lte"), id_gt=q.get("id_gt"), id_gte=q.get("id_gte"))
    async with container_of(request).read() as conn:
        views, users = await messages.replies(conn, actor, parent_id, page)
    return respond(request, {"messages": [_message_payload(request, v, users) for v in views]})


def _thread(request: Request, view: MessageView, replies: list[MessageView], users: Users,
            channel: dict[str, Any]) -> dict[str, Any]:
    m = view.message
    online = request.app.state.hub.is_online
    parent = render.message(view, users, online)
    latest = [render.message(r, users, online) for r in replies]
    creator = users.get(m.user_id)
    return {
        "channel_cid": m.cid, "channel": channel, "parent_message_id": m.id, "parent_message": parent,
        "created_by_user_id": creator.chat_id if creator else None,
        "created_by": render.user(creator, online),
        "reply_count": m.reply_count, "participant_count": len(m.thread_participant_ids),
        "thread_participants": [{"user_id": u.chat_id, "user": render.user(u, online)}
                                for i in m.thread_participant_ids if (u := users.get(i))],
        "last_message_at": latest[-1]["created_at"] if latest else None,
        "latest_replies": latest,
        "title": m.custom.get("title", ""), "custom": {k: v for k, v in m.custom.items() if k != "title"},
        "created_at": parent["created_at"], "updated_at": parent["updated_at"],
    }


async def _thread_payload(request: Request, conn: Any, actor: Actor, message_id: str,
                          reply_limit: int) -> dict[str, Any]:
    (parent,), users = await messages.get_views(conn, actor, [message_id])
    replies, users = await messages.replies(conn, actor, message_id, Page(limit=reply_limit), users=users)
    channel, ctype, _ = await channels.access(conn, actor, parent.message.cid, Action.READ_CHANNEL)
    await load_users(conn, users, [channel.created_by_id or 0])
    return _thread(request, parent, replies, users, render.channel(channel, ctype, users))


@router.post("/threads", name="QueryThreads")
async def query_threads(request: Request) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data, required=False)
    limit = get_int(data, "limit", 10, lo=1, hi=25)
    reply_limit = get_int(data, "reply_limit", 2, lo=0, hi=10)
    sort = filters.parse_sort(data.get("sort"))
    offset = 0
    if cursor := get_str(data, "next"):
        page = Cursor.decode(cursor)
        offset, sort = page.offset, sort or page.sort
    conditions = get_dict(data, "filter")
    async with container_of(request).read() as conn:
        parents = await messages.thread_parents(conn, actor, conditions, sort, limit=limit, offset=offset)
        out: dict[str, Any] = {
            "threads": [await _thread_payload(request, conn, actor, p.id, reply_limit) for p in parents]}
    if len(parents) == limit:  # as Stream does: a full page offers a next one
        out["next"] = Cursor(offset + limit, sort).encode()
    if offset:
        out["prev"] = Cursor(max(0, offset - limit), sort).encode()
    return respond(request, out)


@router.get("/threads/{message_id}", name="GetThread")
async def get_thread(request: Request, message_id: str) -> Response:
    q = dict(request.query_params)
    actor, _ = await actor_of(request, q, required=False)
    async with container_of(request).read() as conn:
        out = await _thread_payload(request, conn, actor, message_id, get_int(q, "reply_limit", 2, lo=0, hi=10))
    return respond(request, {"thread": out})


@router.patch("/threads/{message_id}", name="UpdateThreadPartial")
async def update_thread_partial(request: Request, message_id: str) -> Response:
    """A thread's title and custom data are kept on its parent message."""
    data = await json_body(request)
    unset = get_list(data, "unset")
    if not all(isinstance(k, str) for k in unset):
        raise Invalid("invalid_field", "unset must list field names")
    changes = {k: v for k, v in get_dict(data, "set").items() if k == "title" or k not in MESSAGE_RESERVED}
    actor, user = await actor_of(request, data, required=False)
    container = container_of(request)
    async with container.uow() as uow:
        await messages.edit(uow, actor, message_id, changes, unset=unset, acting_user=user)
    async with container.read() as conn:
        out = await _thread_payload(request, conn, actor, message_id, 2)
    return respond(request, {"thread": out})


# --- reactions --------------------------------------------------------------------------------

@router.post("/messages/{message_id}/reaction", name="SendReaction")
async def send_reaction(request: Request, message_id: str) -> Response:
    data = await json_body(request)
    reaction = get_dict(data, "reaction")
    actor, user = await actor_of(request, {**reaction, **data}, required=True)
    assert user is not None
    custom = {k: v for k, v in reaction.items() if k not in ("type", "score", "user", "user_id")}
    async with container_of(request).uow() as uow:
        view, saved, users = await reactions.send(
            uow, actor, user, message_id, reaction.get("type"), score=reaction.get("score", 1),
            custom=custom, enforce_unique=get_bool(data, "enforce_unique"))
    online = request.app.state.hub.is_online
    return respond(request, {"message": render.message(view, users, online),
                             "reaction": render.reaction(saved, users, online)}, 201)


@router.delete("/messages/{message_id}/reaction/{kind}", name="DeleteReaction")
async def delete_reaction(request: Request, message_id: str, kind: str) -> Response:
    actor, user = await actor_of(request, dict(request.query_params), required=True)
    assert user is not None
    async with container_of(request).uow() as uow:
        view, gone, users = await reactions.remove(uow, actor, user, message_id, kind)
    online = request.app.state.hub.is_online
    return respond(request, {"message": render.message(view, users, online),
                             "reaction": render.reaction(gone, users, online)})


@router.get("/messages/{message_id}/reactions", name="GetReactions")
async def get_reactions(request: Request, message_id: str) -> Response:
    q = dict(request.query_params)
    actor, _ = await actor_of(request, q, required=False)
    async with container_of(request).read() as conn:
        found, users = await reactions.list_reactions(
            conn, actor, message_id, limit=get_int(q, "limit", 10, lo=0, hi=300),
            offset=get_int(q, "offset", 0, lo=0, hi=1000))
    online = request.app.state.hub.is_online
    return respond(request, {"reactions": [render.reaction(r, users, online) for r in found]})


# --- search -----------------------------------------------------------------------------------

@router.get("/search", name="Search")
async def search(request: Request) -> Response:
    payload = payload_param(request)
    actor, _ = await actor_of(request, payload, required=False)
    query = payload.get("query")
    if query is not None and not isinstance(query, str):
        raise Invalid("invalid_query", "query must be a string")
    message_conditions = payload.get("message_filter_conditions")
    if message_conditions is not None and not isinstance(message_conditions, dict):
        raise Invalid("invalid_filter", "message_filter_conditions must be an object")
    sort = filters.parse_sort(payload.get("sort"))
    limit = get_int(payload, "limit", 20, lo=1, hi=chat_search.MAX_LIMIT)
    offset = get_int(payload, "offset", 0, lo=0, hi=chat_search.MAX_OFFSET)
    cursor = get_str(payload, "next")
    if cursor:
        if offset:
            raise Invalid("invalid_pagination", "next cannot be combined with offset")
        page = Cursor.decode(cursor)
        offset, sort = page.offset, sort or page.sort
    async with container_of(request).read() as conn:
        views, users, more = await chat_search.search(
            conn, actor, payload.get("filter_conditions") or {}, query=query,
            message_conditions=message_conditions, sort=sort, limit=limit, offset=offset)
    out: dict[str, Any] = {"results": [{"message": _message_payload(request, v, users)} for v in views],
                           "next": Cursor(offset + limit, sort).encode() if more else None}
    if offset:
        out["previous"] = Cursor(max(0, offset - limit), sort).encode()
    return respond(request, out)
