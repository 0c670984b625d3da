"""Users: upsert, partial update, query, guests, deactivate/reactivate/delete/restore."""

from __future__ import annotations

from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import Response

from townhall.api.chat import render
from townhall.api.chat.http import (
    caller_of,
    container_of,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    json_body,
    payload_param,
    require_server,
    respond,
)
from townhall.core import filters, tasks
from townhall.core.accounts import service as accounts
from townhall.core.accounts.service import UserFields
from townhall.core.chat import client_events, tokens
from townhall.core.chat.permissions import check_user_change
from townhall.core.clock import iso, new_id
from townhall.core.errors import Invalid

router = APIRouter(tags=["users"])
MAX_UPSERT = 100


def _forget(request: Request, chat_ids: Any) -> None:
    request.app.state.auth.forget(chat_ids)


def _online(request: Request) -> render.Online:
    return request.app.state.hub.is_online


@router.post("/users", name="UpdateUsers")
async def upsert_users(request: Request) -> Response:
    caller = caller_of(request)
    data = await json_body(request)
    given = get_dict(data, "users")
    if not given:
        raise Invalid("missing_users", "users is a required field (a map of id to user)")
    if len(given) > MAX_UPSERT:
        raise Invalid("too_many_users", f"at most {MAX_UPSERT} users can be upserted at once")
    specs = []
    for key, value in given.items():
        if not isinstance(value, dict):
            raise Invalid("invalid_user", f"users.{key} must be an object")
        specs.append(UserFields.from_dict({**value, "id": value.get("id", key)}))
    for spec in specs:
        check_user_change(caller.actor, spec.chat_id, role=spec.role)
    container = container_of(request)
    async with container.uow() as uow:
        saved = await accounts.upsert_chat_users(uow, specs)
    _forget(request, [u.chat_id for u in saved])
    online = _online(request)
    return respond(request, {"users": {u.chat_id: render.user(u, online) for u in saved}}, 201)


@router.patch("/users", name="UpdateUsersPartial")
async def update_users_partial(request: Request) -> Response:
    caller = caller_of(request)
    data = await json_body(request)
    updates = get_list(data, "users")
    if not updates or len(updates) > MAX_UPSERT:
        raise Invalid("invalid_users", f"users must list 1 to {MAX_UPSERT} partial updates")
    container = container_of(request)
    out = {}
    async with container.uow() as uow:
        for item in updates:
            if not isinstance(item, dict):
                raise Invalid("invalid_user", "each partial update must be an object")
            chat_id = get_str(item, "id", required=True)
            assert chat_id is not None
            set_ = dict(get_dict(item, "set"))
            check_user_change(caller.actor, chat_id, role=set_.get("role"))
            unset = get_list(item, "unset")
            if not all(isinstance(k, str) for k in unset):
                raise Invalid("invalid_field", "unset must list field names")
            user = await accounts.access_chat_user(uow.conn, chat_id)
            if tokens.SETTING in set_ or tokens.SETTING in unset:
                cutoff = tokens.parse_cutoff(set_.pop(tokens.SETTING, None))
                unset = [k for k in unset if k != tokens.SETTING]
                await tokens.do_revoke_user_tokens(uow, caller.actor, [user.id], cutoff)
            fresh = await accounts.partial_update_user(uow, user, set_, unset)
            out[fresh.chat_id] = render.user(fresh, _online(request))
    _forget(request, out)
    return respond(request, {"users": out})


@router.get("/users", name="QueryUsers")
async def query_users(request: Request) -> Response:
    payload = payload_param(request)
    conditions = payload.get("filter_conditions", {})
    sort = filters.parse_sort(payload.get("sort"))
    limit = get_int(payload, "limit", 30, lo=0, hi=100)
    offset = get_int(payload, "offset", 0, lo=0, hi=1000)
    container = container_of(request)
    async with container.read() as conn:
        found = await accounts.query_users(
            conn, conditions, sort, limit=limit, offset=offset,
            include_deactivated=get_bool(payload, "include_deactivated_users"),
        )
    online = _online(request)
    presence = get_bool(payload, "presence")
    return respond(request, {"users": [render.user(u, online) for u in found], "presence": presence})


@router.post("/guest", name="CreateGuest")
async def create_guest(request: Request) -> Response:
    data = await json_body(request)
    given = get_dict(data, "user")
    chat_id = given.get("id") or f"guest-{new_id()}"
    spec = UserFields.from_dict({**given, "id": chat_id, "role": "guest"})
    container = container_of(request)
    async with container.read() as conn:
        if await accounts.get_users_by_chat_id(conn, [spec.chat_id]):
            raise Invalid("user_exists", f'user "{spec.chat_id}" already exists; guests need a new id')
    async with container.uow() as uow:
        (saved,) = await accounts.upsert_chat_users(uow, [spec])
    token = jwt.encode({"user_id": saved.chat_id}, container.credentials.chat_api_secret, algorithm="HS256")
    return respond(request, {"user": render.user(saved), "access_token": token}, 201)


async def _set_state(request: Request, chat_ids: list[str], *, deactivated: bool | None = None,
                     deleted: bool | None = None) -> list[Any]:
    require_server(request, "changing a user's state")
    container = container_of(request)
    async with container.uow() as uow:
        found = await accounts.require_chat_users(uow.conn, chat_ids)
        changed = await accounts.set_user_state(uow, [found[c].id for c in chat_ids],
                                                deactivated=deactivated, deleted=deleted)
    _forget(request, chat_ids)
    return changed


@router.post("/users/{user_id}/deactivate", name="DeactivateUser")
async def deactivate_user(request: Request, user_id: str) -> Response:
    (user,) = await _set_state(request, [user_id], deactivated=True)
    return respond(request, {"user": render.user(user)})


@router.post("/users/{user_id}/reactivate", name="ReactivateUser")
async def reactivate_user(request: Request, user_id: str) -> Response:
    (user,) = await _set_state(request, [user_id], deactivated=False)
    return respond(request, {"user": render.user(user)})


def _user_ids(data: dict[str, Any]) -> list[str]:
    ids = get_list(data, "user_ids")
    if not ids or len(ids) > MAX_UPSERT or not all(isinstance(i, str) for i in ids):
        raise Invalid("invalid_user_ids", f"user_ids must list 1 to {MAX_UPSERT} user ids")
    return list(dict.fromkeys(ids))


@router.post("/users/deactivate", name="DeactivateUsers")
async def deactivate_users(request: Request) -> Response:
    data = await json_body(request)
    users = await _set_state(request, _user_ids(data), deactivated=True)
    return await _task_response(request, "deactivate_users", {"users": [render.user(u) for u in users]})


@router.post("/users/reactivate", name="ReactivateUsers")
async def reactivate_users(request: Request) -> Response:
    data = await json_body(request)
    users = await _set_state(request, _user_ids(data), deactivated=False)
    return await _task_response(request, "reactivate_users", {"users": [render.user(u) for u in users]})


@router.post("/users/restore", name="RestoreUsers")
async def restore_users(request: Request) -> Response:
    data = await json_body(request)
    await _set_state(request, _user_ids(data), deleted=False)
    return respond(request, {}, 201)


async def _task_response(request: Request, kind: str, result: dict[str, Any]) -> Response:
    container = container_of(request)
    async with container.uow() as uow:
        task_id = await tasks.record_completed(uow, kind, result)
    return respond(request, {"task_id": task_id}, 201)


@router.delete("/users/{user_id}", name="DeleteUser")
async def delete_user(request: Request, user_id: str) -> Response:
    q = request.query_params
    hard = q.get("hard_delete") == "true"
    require_server(request, "deleting a user")
    container = container_of(request)
    async with container.uow() as uow:
        user = await accounts.access_chat_user(uow.conn, user_id)
        if hard:
            await accounts.hard_delete_users(uow, [user])
            result = user.model_copy(update={"deleted_at": user.updated_at})
        else:
            (result,) = await accounts.set_user_state(uow, [user.id], deleted=True)
    _forget(request, [user_id])
    return respond(request, {"user": render.user(result)})


@router.post("/users/delete", name="DeleteUsers")
async def delete_users(request: Request) -> Response:
    data = await json_body(request)
    require_server(request, "deleting users")
    ids = _user_ids(data)
    mode = get_str(data, "user", "soft")
    if mode not in ("soft", "hard", "pruning"):
        raise Invalid("invalid_field", "user must be soft, hard or pruning")
    container = container_of(request)
    async with container.uow() as uow:
        found = await accounts.require_chat_users(uow.conn, ids)
        if mode == "soft":
            await accounts.set_user_state(uow, [found[c].id for c in ids], deleted=True)
        else:
            await accounts.hard_delete_users(uow, list(found.values()))
        task_id = await tasks.record_completed(uow, "delete_users", {c: {"status": "ok"} for c in ids})
    _forget(request, ids)
    return respond(request, {"task_id": task_id}, 201)


@router.get("/tasks/{task_id}", name="GetTask")
async def get_task(request: Request, task_id: str) -> Response:
    require_server(request, "reading a task")
    async with container_of(request).read() as conn:
        task = await tasks.get_task(conn, task_id)
    return respond(request, {"task_id": task["id"], "status": task["status"], "result": task["result"] or {},
                             "created_at": iso(task["created_at"]), "updated_at": iso(task["updated_at"])})


@router.post("/users/{user_id}/event", name="SendUserCustomEvent")
async def send_user_event(request: Request, user_id: str) -> Response:
    require_server(request, "sending a user event")
    data = await json_body(request)
    event = get_dict(data, "event")
    kind = get_str(event, "type", required=True)
    assert kind is not None
    container = container_of(request)
    async with container.read() as conn:
        user = await accounts.access_chat_user(conn, user_id)
    await container.bus.publish(client_events.check_user_event(user, kind, event))
    return respond(request, {"event": {**event, "type": kind}}, 201)
