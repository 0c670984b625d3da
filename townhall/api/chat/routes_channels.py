"""Channels: get-or-create/query, query channels, update and its body-switched actions, members,
hide/show, truncate, delete, read state, client events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from townhall.api.chat import render
from townhall.api.chat.http import (
    Caller,
    actor_of,
    caller_of,
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
from townhall.core import filters, tasks
from townhall.core.accounts import service as accounts
from townhall.core.chat import channel_types as types
from townhall.core.chat import channels, client_events, messages, reads
from townhall.core.chat.channels import Page, StateOptions
from townhall.core.chat.models import ChannelState, Users
from townhall.core.chat.permissions import Action, Actor
from townhall.core.chat.views import load_users
from townhall.core.clock import iso
from townhall.core.errors import Forbidden, Invalid

router = APIRouter(tags=["channels"])
BODY_ACTIONS = ("add_members", "remove_members", "invites", "add_moderators", "demote_moderators",
                "assign_roles", "accept_invite", "reject_invite")


def _page(data: dict[str, Any], default_limit: int) -> Page:
    return Page(
        limit=get_int(data, "limit", default_limit, lo=0, hi=channels.MAX_MESSAGES_LIMIT),
        offset=get_int(data, "offset", 0, lo=0, hi=10_000),
        id_lt=get_str(data, "id_lt"), id_lte=get_str(data, "id_lte"),
        id_gt=get_str(data, "id_gt"), id_gte=get_str(data, "id_gte"),
    )


def _state_options(data: dict[str, Any], default_messages: int = 25) -> StateOptions:
    mems = get_dict(data, "members")
    return StateOptions(
        messages=_page(get_dict(data, "messages"), default_messages),
        members_limit=get_int(mems, "limit", 100, lo=0, hi=300),
        members_offset=get_int(mems, "offset", 0, lo=0, hi=10_000),
    )


MAX_WATCHERS_LISTED = 100


async def _render_states(request: Request, states: list[ChannelState]) -> list[dict[str, Any]]:
    """Channel states with their watchers: this process's, and those of other processes (loaded
    from the database, once for all the channels)."""
    hub = request.app.state.hub
    local = {s.channel.cid: hub.watcher_users(s.channel.cid)[:MAX_WATCHERS_LISTED] for s in states}
    remote = {cid: hub.remote_watcher_ids(cid)[:MAX_WATCHERS_LISTED - len(users)] for cid, users in local.items()}
    wanted = {user_id for ids in remote.values() for user_id in ids}
    found: dict[int, Any] = {}
    if wanted:
        async with container_of(request).read() as conn:
            found = await accounts.get_users(conn, wanted)
    return [render.state(s, hub.is_online, watcher_count=hub.watcher_count(s.channel.cid),
                         watchers=local[s.channel.cid] + [found[i] for i in remote[s.channel.cid] if i in found])
            for s in states]


async def _watch(request: Request, data: dict[str, Any], state: ChannelState, actor: Actor) -> None:
    """``watch: true`` with the caller's own ``connection_id``: its socket gets the channel's events
    (on whichever process holds the socket)."""
    connection_id = request.query_params.get("connection_id")
    if get_bool(data, "watch") and connection_id and actor.user is not None:
        await request.app.state.hub.watch_anywhere(
            connection_id, state.channel.cid, actor.user.id,
            announce=state.channel_type.flag("connect_events"))


def _member_ids(data: dict[str, Any], key: str = "members") -> list[str]:
    """``members`` lists user ids or ``{user_id, channel_role?}`` objects."""
    return list(_member_roles(data, key)[0])


def _member_roles(data: dict[str, Any], key: str = "members") -> tuple[list[str], dict[str, str]]:
    ids, roles = [], {}
    for item in get_list(data, key):
        role = None
        if isinstance(item, dict):
            role = item.get("channel_role")
            item = item.get("user_id") or (item.get("user") or {}).get("id")
        if not isinstance(item, str):
            raise Invalid("invalid_members", f"{key} must list user ids")
        if role is not None:
            if not isinstance(role, str):
                raise Invalid("invalid_members", "channel_role must be a string")
            roles[item] = role
        ids.append(item)
    return ids, roles


async def _get_or_create(request: Request, type_name: str, channel_id: str | None) -> Response:
    data = await json_body(request)
    container = container_of(request)
    actor, _ = await actor_of(request, data)
    channel_data = get_dict(data, "data")
    member_ids, roles = _member_roles(channel_data)
    invite_ids = _member_ids(channel_data, "invites")
    created_by = channel_data.get("created_by")
    creator = channel_data.get("created_by_id") or (created_by.get("id") if isinstance(created_by, dict) else None)
    if creator is not None and not isinstance(creator, str):
        raise Invalid("invalid_field", "created_by_id must be a user id")
    async with container.uow() as uow:
        channel, created = await channels.get_or_create(
            uow, actor, type_name, channel_id, channel_data, member_chat_ids=member_ids,
            creator_chat_id=creator, invite_chat_ids=invite_ids, roles=roles)
    async with container.read() as conn:
        channel, ctype, member = await channels.access(conn, actor, channel.cid, Action.READ_CHANNEL)
        state = await channels.state(conn, actor, channel, ctype, member, _state_options(data), created=created)
    await _watch(request, data, state, actor)
    (rendered,) = await _render_states(request, [state])
    return respond(request, rendered, 201 if created else 200)


@router.post("/channels/{type_name}/query", name="GetOrCreateDistinctChannel")
async def query_distinct_channel(request: Request, type_name: str) -> Response:
    return await _get_or_create(request, type_name, None)


@router.post("/channels/{type_name}/{channel_id}/query", name="GetOrCreateChannel")
async def query_channel(request: Request, type_name: str, channel_id: str) -> Response:
    return await _get_or_create(request, type_name, channel_id)


@router.post("/channels", name="QueryChannels")
async def query_channels(request: Request) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    if actor.server and actor.user is None and (get_bool(data, "watch") or get_bool(data, "presence")):
        raise Invalid("missing_user", "watch and presence need a user")
    conditions = data.get("filter_conditions") or {}
    sort = filters.parse_sort(data.get("sort"))
    opts = _state_options(data, default_messages=get_int(data, "message_limit", 25, lo=0, hi=300))
    opts.members_limit = get_int(data, "member_limit", opts.members_limit, lo=0, hi=300)
    async with container_of(request).read() as conn:
        found = await channels.query_channels(
            conn, actor, conditions, sort, limit=get_int(data, "limit", 10, lo=0, hi=channels.MAX_QUERY_LIMIT),
            offset=get_int(data, "offset", 0, lo=0, hi=10_000), options=opts)
    for state in found:
        await _watch(request, data, state, actor)
    return respond(request, {"channels": await _render_states(request, found)})


@router.post("/channels/{type_name}/{channel_id}", name="UpdateChannel")
async def update_channel(request: Request, type_name: str, channel_id: str) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    cid = f"{type_name}:{channel_id}"
    container = container_of(request)
    async with container.uow() as uow:
        channel, ctype, member = await channels.access(uow.conn, actor, cid, Action.READ_CHANNEL)
        if "add_members" in data:
            ids, roles = _member_roles(data, "add_members")
            await channels.add_members(uow, actor, channel, member, ids, roles=roles)
        if "invites" in data:
            await channels.add_members(uow, actor, channel, member, _member_ids(data, "invites"), invited=True)
        if "remove_members" in data:
            await channels.remove_members(uow, actor, channel, member, _member_ids(data, "remove_members"))
        if "add_moderators" in data:
            await channels.set_member_roles(
                uow, actor, channel, member,
                {u: "channel_moderator" for u in _member_ids(data, "add_moderators")}, add_missing=True)
        if "demote_moderators" in data:
            await channels.set_member_roles(
                uow, actor, channel, member, {u: "channel_member" for u in _member_ids(data, "demote_moderators")})
        if "assign_roles" in data:
            _, roles = _member_roles(data, "assign_roles")
            await channels.set_member_roles(uow, actor, channel, member, roles)
        if get_bool(data, "accept_invite") or get_bool(data, "reject_invite"):
            if actor.user is None:
                raise Invalid("missing_user", "accepting or rejecting an invite needs a user")
            await channels.answer_invite(uow, actor, channel, accept=get_bool(data, "accept_invite"))
        if "data" in data or not any(k in data for k in BODY_ACTIONS):
            channel = await channels.update_channel(uow, actor, channel, member, get_dict(data, "data"))
        msg = get_dict(data, "message")
        if msg:
            sender = actor.user
            if sender is None:
                raise Invalid("missing_user", "message.user_id is required for server-side requests")
            await messages.send(uow, actor, sender, channel,
                                messages.MessageInput(text=get_str(msg, "text", "") or ""))
    return await _channel_response(request, actor, cid)


async def _channel_response(request: Request, actor: Actor, cid: str, status: int = 201) -> Response:
    async with container_of(request).read() as conn:
        channel = await channels.get_channel(conn, cid)
        ctype = await types.get_type(conn, channel.type)
        mems = await channels.get_members(conn, channel.pk, limit=100)
        users = await load_users(conn, Users(), [m.user_id for m in mems] + [channel.created_by_id or 0])
    online = request.app.state.hub.is_online
    return respond(request, {"channel": render.channel(channel, ctype, users, online),
                             "members": [render.member(m, users, online) for m in mems]}, status)


@router.patch("/channels/{type_name}/{channel_id}", name="UpdateChannelPartial")
async def update_channel_partial(request: Request, type_name: str, channel_id: str) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    set_ = get_dict(data, "set")
    unset = get_list(data, "unset")
    if not all(isinstance(k, str) for k in unset):
        raise Invalid("invalid_field", "unset must list field names")
    async with container_of(request).uow() as uow:
        channel, _, member = await channels.access(uow.conn, actor, f"{type_name}:{channel_id}",
                                                   Action.READ_CHANNEL)
        await channels.update_channel(uow, actor, channel, member, set_, partial_unset=unset)
    return await _channel_response(request, actor, f"{type_name}:{channel_id}", 200)


@router.delete("/channels/{type_name}/{channel_id}", name="DeleteChannel")
async def delete_channel(request: Request, type_name: str, channel_id: str) -> Response:
    actor, _ = await actor_of(request, {})
    hard = request.query_params.get("hard_delete") == "true"
    async with container_of(request).uow() as uow:
        (gone,) = await channels.delete_channels(uow, actor, [f"{type_name}:{channel_id}"], hard=hard)
        ctype = await types.get_type(uow.conn, gone.type)
    return respond(request, {"channel": render.channel(gone, ctype, Users())})


@router.post("/channels/delete", name="DeleteChannels")
async def delete_channels(request: Request) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    cids = get_list(data, "cids")
    if not cids or len(cids) > 100 or not all(isinstance(c, str) for c in cids):
        raise Invalid("invalid_cids", "cids must list 1 to 100 channel cids")
    hard = get_bool(data, "hard_delete")
    async with container_of(request).uow() as uow:
        await channels.delete_channels(uow, actor, list(dict.fromkeys(cids)), hard=hard)
        task_id = await tasks.record_completed(
            uow, "delete_channels", {c: {"status": "ok"} for c in cids})
    return respond(request, {"task_id": task_id}, 201)


@router.post("/channels/{type_name}/{channel_id}/truncate", name="TruncateChannel")
async def truncate_channel(request: Request, type_name: str, channel_id: str) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    container = container_of(request)
    async with container.uow() as uow:
        channel, ctype, member = await channels.access(uow.conn, actor, f"{type_name}:{channel_id}",
                                                       Action.READ_CHANNEL)
        channel = await channels.truncate(uow, actor, channel, member, hard=get_bool(data, "hard_delete"))
        msg = get_dict(data, "message")
        if msg and actor.user is not None:
            await messages.send(uow, actor, actor.user, channel,
                                messages.MessageInput(text=get_str(msg, "text", "") or "", type="system"
                                                      if actor.server else "regular"))
    return await _channel_response(request, actor, channel.cid)


async def _member_action(request: Request, type_name: str, channel_id: str, action: str) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    if actor.user is None:
        raise Invalid("missing_user", "user_id is required for server-side requests")
    async with container_of(request).uow() as uow:
        channel, _, member = await channels.access(uow.conn, actor, f"{type_name}:{channel_id}",
                                                   Action.READ_CHANNEL)
        if action == "hide":
            await channels.hide(uow, actor, channel, member, clear_history=get_bool(data, "clear_history"))
        elif action == "show":
            await channels.show(uow, actor, channel, member)
        elif action == "read":
            thread_id = get_str(data, "thread_id")
            if thread_id:
                await reads.mark_thread_read(uow, actor, channel, member, thread_id)
                last_read_id = None
            else:
                fresh = await reads.mark_read(uow, actor, channel, member, get_str(data, "message_id"))
                last_read_id = fresh.last_read_message_id if fresh else None
            event = {"type": "message.read", "cid": channel.cid, "channel_id": channel.id,
                     "channel_type": channel.type, "user": render.user(actor.user),
                     "last_read_message_id": last_read_id}
            if thread_id:
                event["thread"] = {"parent_message_id": thread_id}
            return respond(request, {"event": event}, 201)
        elif action == "unread":
            message_id = get_str(data, "message_id", required=True)
            assert message_id is not None
            await reads.mark_unread(uow, actor, channel, member, message_id)
    return respond(request, {}, 201)


@router.post("/channels/{type_name}/{channel_id}/hide", name="HideChannel")
async def hide_channel(request: Request, type_name: str, channel_id: str) -> Response:
    return await _member_action(request, type_name, channel_id, "hide")


@router.post("/channels/{type_name}/{channel_id}/show", name="ShowChannel")
async def show_channel(request: Request, type_name: str, channel_id: str) -> Response:
    return await _member_action(request, type_name, channel_id, "show")


@router.post("/channels/{type_name}/{channel_id}/read", name="MarkRead")
async def mark_read(request: Request, type_name: str, channel_id: str) -> Response:
    return await _member_action(request, type_name, channel_id, "read")


@router.post("/channels/{type_name}/{channel_id}/unread", name="MarkUnread")
async def mark_unread(request: Request, type_name: str, channel_id: str) -> Response:
    return await _member_action(request, type_name, channel_id, "unread")


@router.post("/channels/read", name="MarkChannelsRead")
async def mark_all_read(request: Request) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    if actor.user is None:
        raise Invalid("missing_user", "user is required for server-side requests")
    async with container_of(request).uow() as uow:
        await reads.mark_all_read(uow, actor.user.id)
    return respond(request, {}, 201)


@router.post("/channels/{type_name}/{channel_id}/stop-watching", name="StopWatchingChannel")
async def stop_watching(request: Request, type_name: str, channel_id: str) -> Response:
    connection_id = request.query_params.get("connection_id")
    caller: Caller = request.state.caller
    if connection_id and caller.user is not None:
        await request.app.state.hub.watch_anywhere(connection_id, f"{type_name}:{channel_id}", caller.user.id,
                                                   watch=False)
    return respond(request, {}, 201)


@router.post("/channels/{type_name}/{channel_id}/event", name="SendEvent")
async def send_event(request: Request, type_name: str, channel_id: str) -> Response:
    data = await json_body(request)
    event = get_dict(data, "event")
    kind = get_str(event, "type", required=True)
    assert kind is not None
    actor, _ = await actor_of(request, {**event, **data})
    container = container_of(request)
    async with container.read() as conn:
        sent = await client_events.check_channel_event(conn, actor, f"{type_name}:{channel_id}", kind, event)
    await container.bus.publish(sent)
    channel = sent.channel
    out = {**sent.payload, "type": kind, "cid": channel.cid, "channel_id": channel.id,
           "channel_type": channel.type, "user": render.user(actor.user) if actor.user else None}
    return respond(request, {"event": out}, 201)


@router.get("/members", name="QueryMembers")
async def query_members(request: Request) -> Response:
    payload = payload_param(request)
    actor, _ = await actor_of(request, payload)
    type_name = get_str(payload, "type", required=True)
    channel_id = get_str(payload, "id")
    async with container_of(request).read() as conn:
        if channel_id is None:
            ids = _member_ids(payload)
            if not ids:
                raise Invalid("missing_id", "id or members is required")
            channel_id = channels.distinct_id(ids)
        channel, _, member = await channels.access(conn, actor, f"{type_name}:{channel_id}", Action.READ_CHANNEL)
        found, users = await channels.query_members(
            conn, actor, channel, payload.get("filter_conditions") or {}, filters.parse_sort(payload.get("sort")),
            limit=get_int(payload, "limit", 100, lo=0, hi=300), offset=get_int(payload, "offset", 0, lo=0, hi=10_000))
    online = request.app.state.hub.is_online
    return respond(request, {"members": [render.member(m, users, online) for m in found]})


@router.patch("/channels/{type_name}/{channel_id}/member/{user_id}", name="UpdateMemberPartial")
async def update_member_partial(request: Request, type_name: str, channel_id: str, user_id: str) -> Response:
    data = await json_body(request)
    actor, _ = await actor_of(request, data)
    unset = get_list(data, "unset")
    if not all(isinstance(k, str) for k in unset):
        raise Invalid("invalid_field", "unset must list field names")
    async with container_of(request).uow() as uow:
        channel, _, member = await channels.access(uow.conn, actor, f"{type_name}:{channel_id}",
                                                   Action.READ_CHANNEL)
        fresh = await channels.update_member_partial(uow, actor, channel, member, user_id,
                                                     get_dict(data, "set"), unset)
        users = await load_users(uow.conn, Users(), [fresh.user_id])
    return respond(request, {"channel_member": render.member(fresh, users)})


# --- unread counts ----------------------------------------------------------------------------

def _unread_summary(rows: list[reads.ChannelUnread], threads: list[reads.ThreadUnread]) -> dict[str, Any]:
    by_type: dict[str, dict[str, int]] = {}
    for r in rows:
        t = by_type.setdefault(r.type, {"channel_count": 0, "unread_count": 0})
        t["unread_count"] += r.unread
        t["channel_count"] += 1 if r.unread else 0
    return {
        "total_unread_count": sum(r.unread for r in rows),
        "channels": [{"channel_id": r.cid, "unread_count": r.unread, "last_read": iso(r.last_read)}
                     for r in rows if r.unread],
        "channel_type": [{"channel_type": k, **v} for k, v in by_type.items()],
        "total_unread_threads_count": len(threads),
        "threads": [{"parent_message_id": t.parent_id, "unread_count": t.unread, "last_read": iso(t.last_read),
                     "last_read_message_id": t.last_read_message_id} for t in threads],
    }


@router.get("/unread", name="UnreadCounts")
async def unread_counts(request: Request) -> Response:
    actor, _ = await actor_of(request, {"user_id": request.query_params.get("user_id")})
    if actor.user is None:
        raise Invalid("missing_user", "user_id is required for server-side requests")
    async with container_of(request).read() as conn:
        rows = await reads.unread_by_channel(conn, [actor.user.id])
        threads = await reads.unread_threads(conn, [actor.user.id])
    return respond(request, _unread_summary(rows[actor.user.id], threads[actor.user.id]))


@router.post("/unread_batch", name="UnreadCountsBatch")
async def unread_counts_batch(request: Request) -> Response:
    caller = caller_of(request)
    if not caller.server:
        raise Forbidden("server_side_only", "unread_batch is only allowed server-side")
    data = await json_body(request)
    ids = get_list(data, "user_ids")
    if not ids or len(ids) > 100 or not all(isinstance(i, str) for i in ids):
        raise Invalid("invalid_user_ids", "user_ids must list 1 to 100 user ids")
    async with container_of(request).read() as conn:
        found = await accounts.get_users_by_chat_id(conn, ids)
        rows = await reads.unread_by_channel(conn, [u.id for u in found.values()])
        threads = await reads.unread_threads(conn, [u.id for u in found.values()])
    return respond(request, {"counts_by_user": {c: _unread_summary(rows[u.id], threads[u.id])
                                                for c, u in found.items()}})
