"""Stream's official PyPI SDK (``stream-chat``, sync ``StreamChat`` and async ``StreamChatAsync``)
drives a real ``townhall serve`` through the flows an app developer builds on: users, channel
types, channels and members, messages and threads, reactions, read state, search, events, app
settings, rate limits, tasks and the errors the SDK has to understand.

The PyPI SDK is server-side only; calls made with a *user* token (what the JS/mobile SDKs send)
go through ``UserSession`` (httpx with ``Authorization: <jwt>``, ``stream-auth-type: jwt`` and the
``api_key``/``user_id`` query). Every test makes its own users and channels (uuid ids) because
the server is shared by the whole session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from stream_chat import StreamChat, StreamChatAsync
from stream_chat.base.exceptions import StreamAPIException
from stream_chat.channel import Channel

if TYPE_CHECKING:
    from conftest import Server

TASK_TIMEOUT = 20.0


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def chat(server: Server) -> StreamChat:
    return StreamChat(server.api_key, server.api_secret, base_url=server.chat_url, timeout=15)


@pytest.fixture
def make_users(chat: StreamChat) -> Callable[..., list[str]]:
    """``make_users(3, name="x")`` upserts fresh users and answers their ids."""

    def make(count: int = 1, **fields: Any) -> list[str]:
        ids = [new_id("u") for _ in range(count)]
        chat.upsert_users([{"id": i, **fields} for i in ids])
        return ids

    return make


@pytest.fixture
def make_channel(chat: StreamChat) -> Callable[..., Channel]:
    """``make_channel(creator, members=[...], type="messaging", **data)``: a new channel with an id."""

    def make(creator: str, members: list[str] | None = None, type: str = "messaging",
             **data: Any) -> Channel:
        channel = chat.channel(type, new_id("c"), {**data, "members": members or []})
        channel.create(creator)
        return channel

    return make


def wait_for_task(chat: StreamChat, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TASK_TIMEOUT
    while True:
        task = chat.get_task(task_id)
        if task["status"] in ("completed", "failed"):
            return dict(task)
        if time.monotonic() > deadline:
            pytest.fail(f"task {task_id} still {task['status']} after {TASK_TIMEOUT}s")
        time.sleep(0.2)


def api_error(excinfo: pytest.ExceptionInfo[StreamAPIException]) -> tuple[int, Any]:
    return excinfo.value.status_code, getattr(excinfo.value, "error_code", None)


class UserSession:
    """Client-side calls as one user: what Stream's JS and mobile SDKs send over REST."""

    def __init__(self, server: Server, user_id: str, token: str | None = None) -> None:
        self.server = server
        self.user_id = user_id
        self.token = token if token is not None else server.make_token(user_id)
        self.http = httpx.Client(base_url=server.chat_url, timeout=15)

    def request(self, method: str, path: str, json: Any = None,
                params: dict[str, Any] | None = None) -> httpx.Response:
        query = {"api_key": self.server.api_key, "user_id": self.user_id, **(params or {})}
        headers = {"Authorization": self.token, "stream-auth-type": "jwt",
                   "X-Stream-Client": "stream-chat-javascript-client-browser-8.0.0"}
        return self.http.request(method, path, json=json, params=query, headers=headers)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def as_user(server: Server) -> Iterator[Callable[[str], UserSession]]:
    sessions: list[UserSession] = []

    def make(user_id: str) -> UserSession:
        session = UserSession(server, user_id)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


def server_token(server: Server) -> str:
    return jwt.encode({"server": True}, server.api_secret, algorithm="HS256")


# -- users ---------------------------------------------------------------------------------------


def test_upserted_users_keep_their_custom_fields_and_answer_queries_by_them(chat: StreamChat) -> None:
    team = new_id("team")
    ids = [new_id("u") for _ in range(3)]
    response = chat.upsert_users([
        {"id": ids[0], "name": "Ann", "guild": team, "level": 3},
        {"id": ids[1], "name": "Bob", "guild": team, "level": 1},
        {"id": ids[2], "name": "Cid", "guild": team, "level": 2},
    ])
    assert set(response["users"]) == set(ids)
    assert response["users"][ids[0]]["guild"] == team
    assert response["users"][ids[0]]["role"] == "user"

    by_level = chat.query_users({"guild": {"$eq": team}}, {"level": -1})
    assert [u["id"] for u in by_level["users"]] == [ids[0], ids[2], ids[1]]

    page = chat.query_users({"guild": team}, {"level": 1}, limit=1, offset=1)
    assert [u["id"] for u in page["users"]] == [ids[2]]

    some = chat.query_users({"$and": [{"id": {"$in": ids}}, {"level": {"$gte": 2}}]}, {"level": 1})
    assert [u["id"] for u in some["users"]] == [ids[2], ids[0]]


def test_a_partial_user_update_sets_and_unsets_fields(
    chat: StreamChat, make_users: Callable[..., list[str]]
) -> None:
    (user,) = make_users(1, color="red", size="L")
    response = chat.update_user_partial({"id": user, "set": {"color": "blue", "name": "Neo"},
                                         "unset": ["size"]})
    updated = response["users"][user]
    assert updated["color"] == "blue"
    assert updated["name"] == "Neo"
    assert "size" not in updated
    (fetched,) = chat.query_users({"id": user})["users"]
    assert fetched["color"] == "blue" and "size" not in fetched


def test_a_guest_user_gets_an_access_token_and_the_guest_role(chat: StreamChat) -> None:
    guest = new_id("guest")
    response = chat.set_guest_user({"id": guest, "name": "Visitor"})
    assert response["access_token"]
    assert response["user"]["role"] == "guest"
    claims = jwt.decode(response["access_token"], options={"verify_signature": False})
    assert claims["user_id"] == response["user"]["id"]


def test_a_deactivated_user_is_marked_and_reactivation_clears_the_mark(
    chat: StreamChat, make_users: Callable[..., list[str]]
) -> None:
    (user,) = make_users(1)
    deactivated = chat.deactivate_user(user)
    assert deactivated["user"]["id"] == user
    assert deactivated["user"].get("deactivated_at")

    reactivated = chat.reactivate_user(user)
    assert reactivated["user"]["id"] == user
    assert not reactivated["user"].get("deactivated_at")


def test_a_soft_deleted_user_can_be_restored(chat: StreamChat, make_users: Callable[..., list[str]]) -> None:
    (user,) = make_users(1)
    deleted = chat.delete_user(user)
    assert deleted["user"]["id"] == user
    assert deleted["user"].get("deleted_at")

    chat.restore_users([user])
    (restored,) = chat.query_users({"id": user})["users"]
    assert not restored.get("deleted_at")


def test_bulk_user_deletion_is_a_task_that_reports_every_user_ok(
    chat: StreamChat, make_users: Callable[..., list[str]]
) -> None:
    users = make_users(2)
    response = chat.delete_users(users, "hard", conversations="hard", messages="hard")
    task = wait_for_task(chat, response["task_id"])
    assert task["status"] == "completed"
    for user in users:  # Stream's own test checks exactly this shape
        assert task["result"][user] == {"status": "ok"}
    assert chat.query_users({"id": {"$in": users}})["users"] == []


def test_bulk_deactivation_is_a_task_whose_result_lists_the_deactivated_users(
    chat: StreamChat, make_users: Callable[..., list[str]]
) -> None:
    users = make_users(2)
    response = chat.deactivate_users(users)
    assert len(response["task_id"]) == 36
    task = wait_for_task(chat, response["task_id"])
    assert task["status"] == "completed"
    listed = {u["id"]: u for u in task["result"]["users"]}
    assert set(listed) == set(users)
    assert all(u.get("deactivated_at") for u in listed.values())


# -- channel types -------------------------------------------------------------------------------


def test_the_builtin_channel_types_exist_out_of_the_box(chat: StreamChat) -> None:
    types = chat.list_channel_types()["channel_types"]
    assert {"messaging", "team", "livestream", "commerce", "gaming"} <= set(types)
    messaging = chat.get_channel_type("messaging")
    assert messaging["name"] == "messaging"
    assert messaging["reactions"] is True and messaging["replies"] is True
    assert "permissions" in messaging  # Stream's own test_get_channel_types checks this


def test_a_channel_type_can_be_created_read_updated_and_deleted(chat: StreamChat) -> None:
    name = new_id("ct").replace("-", "")
    created = chat.create_channel_type({"name": name, "typing_events": False, "max_message_length": 100})
    assert created["name"] == name
    assert created["typing_events"] is False
    assert chat.get_channel_type(name)["max_message_length"] == 100

    updated = chat.update_channel_type(name, max_message_length=200, replies=False)
    assert updated["max_message_length"] == 200 and updated["replies"] is False
    assert name in chat.list_channel_types()["channel_types"]

    chat.delete_channel_type(name)
    with pytest.raises(StreamAPIException) as excinfo:
        chat.get_channel_type(name)
    assert api_error(excinfo) == (404, 16)


def cleanup_channel_type(chat: StreamChat, name: str) -> None:
    """Hard-delete the type's channels, then the type (Stream refuses to delete a used type)."""
    with contextlib.suppress(StreamAPIException):
        cids = [c["channel"]["cid"] for c in chat.query_channels({"type": name})["channels"]]
        if cids:
            wait_for_task(chat, chat.delete_channels(cids, hard_delete=True)["task_id"])
    with contextlib.suppress(StreamAPIException):
        chat.delete_channel_type(name)


def test_a_channel_type_without_reactions_rejects_reactions(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    name = new_id("noreact").replace("-", "")
    chat.create_channel_type({"name": name, "reactions": False})
    try:
        (user,) = make_users(1)
        channel = make_channel(user, [user], type=name)
        message = channel.send_message({"text": "react to me"}, user)["message"]
        with pytest.raises(StreamAPIException) as excinfo:
            channel.send_reaction(message["id"], {"type": "love"}, user)
        assert excinfo.value.status_code in (400, 403)
    finally:
        cleanup_channel_type(chat, name)


def test_a_channel_type_rejects_messages_longer_than_its_max_message_length(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    name = new_id("short").replace("-", "")
    chat.create_channel_type({"name": name, "max_message_length": 10})
    try:
        (user,) = make_users(1)
        channel = make_channel(user, [user], type=name)
        assert channel.send_message({"text": "0123456789"}, user)["message"]["text"] == "0123456789"
        with pytest.raises(StreamAPIException) as excinfo:
            channel.send_message({"text": "0123456789!"}, user)
        assert api_error(excinfo) == (400, 4)
    finally:
        cleanup_channel_type(chat, name)


# -- channels and members ------------------------------------------------------------------------


def test_a_channel_created_with_an_id_and_members_answers_them_in_its_state(
    chat: StreamChat, make_users: Callable[..., list[str]]
) -> None:
    owner, other = make_users(2)
    channel = chat.channel("messaging", new_id("c"), {"members": [owner, other], "topic": "plans"})
    state = channel.create(owner)
    assert state["channel"]["cid"] == f"messaging:{channel.id}"
    assert state["channel"]["topic"] == "plans"
    assert state["channel"]["created_by"]["id"] == owner
    assert state["channel"]["member_count"] == 2
    assert {m["user_id"] for m in state["members"]} == {owner, other}

    again = chat.channel("messaging", channel.id).query()
    assert again["channel"]["topic"] == "plans"


def test_a_distinct_channel_without_an_id_is_the_same_channel_for_the_same_members(
    chat: StreamChat, make_users: Callable[..., list[str]]
) -> None:
    a, b, c = make_users(3)
    first = chat.channel("messaging", data={"members": [a, b]})
    first.create(a)
    assert first.id
    second = chat.channel("messaging", data={"members": [b, a]})
    second.create(b)
    assert second.id == first.id
    third = chat.channel("messaging", data={"members": [a, b, c]})
    third.create(a)
    assert third.id != first.id


def test_query_channels_filters_sorts_and_pages(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    owner, friend = make_users(2)
    tag = new_id("tag")
    older = make_channel(owner, [owner, friend], colour="red", tag=tag)
    newer = make_channel(owner, [owner, friend], colour="blue", tag=tag)
    solo = make_channel(owner, [owner], colour="red", tag=tag)
    older.send_message({"text": "first"}, owner)
    time.sleep(0.05)
    solo.send_message({"text": "second"}, owner)
    time.sleep(0.05)
    newer.send_message({"text": "third"}, owner)

    def ids(filters: dict[str, Any], sort: Any = None, **options: Any) -> list[str]:
        response = chat.query_channels(filters, sort, **options)
        return [c["channel"]["id"] for c in response["channels"]]

    recent_first = [newer.id, solo.id, older.id]
    assert ids({"tag": tag}, {"last_message_at": -1}) == recent_first
    assert ids({"tag": tag, "members": {"$in": [friend]}}, {"last_message_at": -1}) == [newer.id, older.id]
    assert ids({"$and": [{"tag": tag}, {"colour": "red"}]}, {"last_message_at": 1}) == [older.id, solo.id]
    assert ids({"tag": tag, "$or": [{"colour": "blue"}, {"id": solo.id}]},
               {"last_message_at": -1}) == [newer.id, solo.id]
    assert ids({"tag": tag}, {"last_message_at": -1}, limit=1, offset=1) == [solo.id]


def test_a_full_update_replaces_the_channel_data_and_a_partial_update_sets_and_unsets(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (owner,) = make_users(1)
    channel = make_channel(owner, [owner], topic="old", colour="red")
    updated = channel.update({"topic": "new", "age": 30})
    assert updated["channel"]["topic"] == "new"
    assert updated["channel"]["age"] == 30
    assert "colour" not in updated["channel"]

    partial = channel.update_partial(to_set={"colour": "blue"}, to_unset=["age"])
    assert partial["channel"]["colour"] == "blue"
    assert partial["channel"]["topic"] == "new"
    assert "age" not in partial["channel"]


def test_members_are_added_removed_promoted_and_demoted(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    owner, ann, bob = make_users(3)
    channel = make_channel(owner, [owner])
    added = channel.add_members([ann, bob])
    assert {m["user_id"] for m in added["members"]} == {owner, ann, bob}
    assert added["channel"]["member_count"] == 3

    promoted = channel.add_moderators([ann])
    ann_member = next(m for m in promoted["members"] if m["user_id"] == ann)
    assert ann_member["is_moderator"] is True
    assert ann_member["channel_role"] == "channel_moderator"

    demoted = channel.demote_moderators([ann])
    ann_member = next(m for m in demoted["members"] if m["user_id"] == ann)
    assert not ann_member.get("is_moderator", False)
    assert ann_member["channel_role"] == "channel_member"

    removed = channel.remove_members([bob])
    assert {m["user_id"] for m in removed["members"]} == {owner, ann}
    queried = channel.query_members({})
    assert {m["user_id"] for m in queried} == {owner, ann}


def test_a_member_can_be_added_with_a_channel_role(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    owner, mod = make_users(2)
    channel = make_channel(owner, [owner])
    response = channel.add_members([{"user_id": mod, "channel_role": "channel_moderator"}])
    member = next(m for m in response["members"] if m["user_id"] == mod)
    assert member["channel_role"] == "channel_moderator"
    reassigned = channel.assign_roles([{"user_id": mod, "channel_role": "channel_member"}])
    member = next(m for m in reassigned["members"] if m["user_id"] == mod)
    assert member["channel_role"] == "channel_member"


def test_invited_users_can_accept_or_reject_their_invite(
    chat: StreamChat, make_users: Callable[..., list[str]]
) -> None:
    owner, ringo, eric = make_users(3)
    channel = chat.channel("team", new_id("beatles"), {"members": [owner], "invites": [ringo, eric]})
    state = channel.create(owner)
    invited = {m["user_id"]: m for m in state["members"] if m.get("invited")}
    assert set(invited) == {ringo, eric}

    accepted = channel.accept_invite(ringo)
    ringo_member = next(m for m in accepted["members"] if m["user_id"] == ringo)
    assert ringo_member["invited"] is True
    assert ringo_member.get("invite_accepted_at")

    rejected = channel.reject_invite(eric)
    eric_member = next(m for m in rejected["members"] if m["user_id"] == eric)
    assert eric_member.get("invite_rejected_at")

    with pytest.raises(StreamAPIException):
        channel.accept_invite(new_id("stranger"))


def test_the_invite_members_action_invites_existing_users(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    owner, guest = make_users(2)
    channel = make_channel(owner, [owner], type="team")
    response = channel.invite_members([guest])
    member = next(m for m in response["members"] if m["user_id"] == guest)
    assert member["invited"] is True
    channel.accept_invite(guest)


def test_a_hidden_channel_leaves_queries_until_shown_or_a_new_message_arrives(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])

    def visible_to_ann(**filters: Any) -> int:
        return len(chat.query_channels({"cid": channel.cid, **filters}, user_id=ann)["channels"])

    assert visible_to_ann() == 1
    channel.hide(ann)
    assert visible_to_ann() == 0
    assert visible_to_ann(hidden=True) == 1
    channel.show(ann)
    assert visible_to_ann() == 1
    channel.hide(ann)
    channel.send_message({"text": "wake up"}, bob)
    assert visible_to_ann() == 1


def test_truncating_a_channel_removes_its_messages(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (owner,) = make_users(1)
    channel = make_channel(owner, [owner])
    for text in ("a", "b", "c"):
        channel.send_message({"text": text}, owner)
    response = channel.truncate()
    assert response["channel"]["cid"] == channel.cid
    assert response["channel"].get("truncated_at")
    assert channel.query(messages={"limit": 10})["messages"] == []


def test_a_deleted_channel_leaves_queries_and_a_bulk_hard_delete_is_a_task(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (owner,) = make_users(1)
    soft = make_channel(owner, [owner])
    hard_one = make_channel(owner, [owner])
    hard_two = make_channel(owner, [owner])

    deleted = soft.delete()
    assert deleted["channel"].get("deleted_at")
    assert chat.query_channels({"cid": soft.cid})["channels"] == []

    response = chat.delete_channels([hard_one.cid, hard_two.cid], hard_delete=True)
    task = wait_for_task(chat, response["task_id"])
    assert task["status"] == "completed"
    assert task["result"][hard_one.cid] == {"status": "ok"}
    assert task["result"][hard_two.cid] == {"status": "ok"}
    assert chat.query_channels({"cid": {"$in": [hard_one.cid, hard_two.cid]}})["channels"] == []


def test_members_are_queried_by_name_and_partially_updated(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    owner = make_users(1, name="zed")[0]
    jill = make_users(1, name="jill")[0]
    jack = make_users(1, name="jack")[0]
    channel = make_channel(owner, [owner])
    channel.add_members([jill])
    channel.add_members([jack])
    found = channel.query_members({"name": {"$autocomplete": "j"}}, [{"field": "created_at", "direction": 1}])
    assert [m["user"]["id"] for m in found] == [jill, jack]

    updated = channel.update_member_partial(jill, to_set={"hat": "blue"})
    assert updated["channel_member"]["hat"] == "blue"
    updated = channel.update_member_partial(jill, to_set={"colour": "red"}, to_unset=["hat"])
    assert updated["channel_member"]["colour"] == "red"
    assert "hat" not in updated["channel_member"]


# -- messages ------------------------------------------------------------------------------------


def test_a_retried_send_with_the_same_id_creates_one_message(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    message_id = new_id("m")
    first = channel.send_message({"id": message_id, "text": "only once"}, user)
    with contextlib.suppress(StreamAPIException):  # Stream may answer the retry with an error
        channel.send_message({"id": message_id, "text": "only once"}, user)
    assert first["message"]["id"] == message_id
    messages = channel.query(messages={"limit": 10})["messages"]
    assert [m["id"] for m in messages] == [message_id]
    assert channel.query()["channel"].get("message_count", 1) == 1


def test_messages_are_read_one_by_one_and_in_bulk(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    ids = [channel.send_message({"text": f"m{i}", "flavour": "mint"}, user)["message"]["id"]
           for i in range(3)]
    one = chat.get_message(ids[1])["message"]
    assert one["text"] == "m1"
    assert one["flavour"] == "mint"
    assert one["user"]["id"] == user
    assert one["cid"] == channel.cid
    many = channel.get_messages(ids)["messages"]
    assert sorted(m["id"] for m in many) == sorted(ids)


def test_a_full_update_replaces_the_text_and_a_partial_update_sets_and_unsets_fields(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    message = channel.send_message({"text": "draft", "mood": "calm"}, user)["message"]
    updated = chat.update_message({"id": message["id"], "text": "final", "user_id": user})["message"]
    assert updated["text"] == "final"
    assert "mood" not in updated

    partial = chat.update_message_partial(message["id"], {"set": {"mood": "happy", "score": 3}}, user)
    assert partial["message"]["mood"] == "happy"
    assert partial["message"]["text"] == "final"
    partial = chat.update_message_partial(message["id"], {"unset": ["mood"]}, user)
    assert "mood" not in partial["message"]
    assert partial["message"]["score"] == 3


def test_a_soft_deleted_message_can_be_undeleted_and_a_hard_deleted_one_is_gone(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    soft = channel.send_message({"text": "oops"}, user)["message"]
    deleted = chat.delete_message(soft["id"])["message"]
    assert deleted["type"] == "deleted"
    assert deleted.get("deleted_at")
    assert chat.get_message(soft["id"], show_deleted_message=True)["message"]["text"] == "oops"

    restored = chat.undelete_message(soft["id"], user)["message"]
    assert restored["type"] == "regular"
    assert restored["text"] == "oops"

    hard = channel.send_message({"text": "gone"}, user)["message"]
    chat.delete_message(hard["id"], hard=True)
    with pytest.raises(StreamAPIException) as excinfo:
        chat.get_message(hard["id"])
    assert api_error(excinfo) == (404, 16)


def test_message_history_keeps_what_each_change_replaced_newest_first_and_pages_with_next(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, mod = make_users(2)
    channel = make_channel(ann, [ann, mod])
    message = channel.send_message({"text": "v0", "mood": "calm"}, ann)["message"]
    pinned = channel.send_message({"text": "pin me"}, ann)["message"]
    chat.update_message({"id": message["id"], "text": "v1", "mood": "calm", "user_id": ann})
    chat.update_message_partial(message["id"], {"set": {"mood": "happy"}}, mod)
    chat.update_message({"id": message["id"], "text": "v2", "mood": "happy", "user_id": ann})
    chat.pin_message(pinned["id"], ann)  # a pin changes none of the fields the history keeps

    by_message = {"message_id": {"$eq": message["id"]}}
    newest = chat.query_message_history(by_message, sort=[{"message_updated_at": -1}])["message_history"]
    assert [(h["text"], h["mood"], h["message_updated_by_id"]) for h in newest] == [
        ("v1", "happy", ann), ("v1", "calm", mod), ("v0", "calm", ann)]
    assert all(h["message_id"] == message["id"] and h["message_updated_at"] for h in newest)
    assert chat.query_message_history({"message_id": pinned["id"]})["message_history"] == []

    first = chat.query_message_history(by_message, sort=[{"message_updated_at": -1}], limit=1)
    assert [h["text"] for h in first["message_history"]] == ["v1"]
    second = chat.query_message_history(by_message, sort=[{"message_updated_at": -1}], limit=1,
                                        next=first["next"])
    assert [(h["text"], h["mood"]) for h in second["message_history"]] == [("v1", "calm")]

    by_mod = chat.query_message_history({"message_id": {"$in": [message["id"]]},
                                         "message_updated_by_id": mod})["message_history"]
    assert [h["mood"] for h in by_mod] == ["calm"]


def test_message_history_records_soft_deletes_and_undeletes(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    message = channel.send_message({"text": "oops"}, user)["message"]
    chat.delete_message(message["id"])
    chat.undelete_message(message["id"], user)
    entries = chat.query_message_history({"message_id": message["id"]},
                                         sort=[{"message_updated_at": 1}])["message_history"]
    assert [(h["text"], h["is_deleted"]) for h in entries] == [("oops", False), ("oops", True)]


def test_message_history_is_server_side_only_and_needs_a_filter(
    chat: StreamChat, as_user: Callable[[str], UserSession], make_users: Callable[..., list[str]],
    make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    message = channel.send_message({"text": "mine"}, user)["message"]
    response = as_user(user).request("POST", "/messages/history",
                                     json={"filter": {"message_id": message["id"]}})
    assert response.status_code == 403
    assert response.json()["code"] == 17
    with pytest.raises(StreamAPIException) as excinfo:
        chat.query_message_history({})
    assert api_error(excinfo) == (400, 4)


def test_a_message_with_restricted_visibility_is_seen_only_by_the_listed_users_and_its_sender(
    chat: StreamChat, as_user: Callable[[str], UserSession], make_users: Callable[..., list[str]],
    make_channel: Callable[..., Channel]
) -> None:
    ann, bob, cat = make_users(3)
    channel = make_channel(ann, [ann, bob, cat])
    word = uuid.uuid4().hex
    secret = channel.send_message({"text": f"for bob only {word}", "restricted_visibility": [bob]}, ann)["message"]
    assert secret["restricted_visibility"] == [bob]
    channel.send_message({"text": f"for everyone {word}"}, ann)

    def seen(user: str) -> list[str]:
        state = as_user(user).request("POST", f"/channels/messaging/{channel.id}/query",
                                      json={"state": True, "messages": {"limit": 10}}).json()
        return [m["text"] for m in state["messages"]]

    assert seen(ann) == [f"for bob only {word}", f"for everyone {word}"]
    assert seen(bob) == [f"for bob only {word}", f"for everyone {word}"]
    assert seen(cat) == [f"for everyone {word}"]
    assert as_user(bob).request("GET", f"/messages/{secret['id']}").status_code == 200
    hidden = as_user(cat).request("GET", f"/messages/{secret['id']}")
    assert (hidden.status_code, hidden.json()["code"]) == (404, 16)
    found = as_user(cat).request("GET", "/search", params={"payload": json.dumps(
        {"filter_conditions": {"cid": channel.cid}, "query": word})}).json()["results"]
    assert [r["message"]["text"] for r in found] == [f"for everyone {word}"]

    unread = {u: chat.unread_counts(u)["total_unread_count"] for u in (bob, cat)}
    assert unread == {bob: 2, cat: 1}
    assert chat.get_message(secret["id"])["message"]["restricted_visibility"] == [bob]  # server side


def test_a_restricted_thread_reply_is_unread_and_listed_only_for_the_users_who_see_it(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob, cat = make_users(3)
    channel = make_channel(ann, [ann, bob, cat])
    parent = channel.send_message({"text": "thread"}, ann)["message"]
    for user in (bob, cat):
        channel.send_message({"text": f"hi from {user}", "parent_id": parent["id"]}, user)
    chat.mark_all_read(bob)
    chat.mark_all_read(cat)
    channel.send_message({"text": "bob only", "parent_id": parent["id"], "restricted_visibility": [bob]}, ann)

    threads = {u: chat.unread_counts(u)["total_unread_threads_count"] for u in (bob, cat)}
    assert threads == {bob: 1, cat: 0}
    assert [m["text"] for m in channel.get_replies(parent["id"])["messages"]][-1] == "bob only"  # server side


def test_restricted_visibility_is_set_and_changed_by_updates_server_side_only(
    chat: StreamChat, as_user: Callable[[str], UserSession], make_users: Callable[..., list[str]],
    make_channel: Callable[..., Channel]
) -> None:
    ann, bob, cat = make_users(3)
    channel = make_channel(ann, [ann, bob, cat])
    message = channel.send_message({"text": "hello"}, ann)["message"]
    updated = chat.update_message({"id": message["id"], "text": "hi", "restricted_visibility": [bob, cat],
                                   "user_id": ann})["message"]
    assert updated["restricted_visibility"] == [bob, cat]
    partial = chat.update_message_partial(message["id"], {"set": {"restricted_visibility": [cat]}}, ann)
    assert partial["message"]["restricted_visibility"] == [cat]
    assert as_user(bob).request("GET", f"/messages/{message['id']}").status_code == 404

    sent = as_user(ann).request("POST", f"/channels/messaging/{channel.id}/message",
                                json={"message": {"text": "sneaky", "restricted_visibility": [bob]}})
    assert (sent.status_code, sent.json()["code"]) == (403, 17)
    widened = as_user(ann).request("PUT", f"/messages/{message['id']}",
                                   json={"set": {"restricted_visibility": [bob, cat]}})
    assert (widened.status_code, widened.json()["code"]) == (403, 17)
    # the sender's client may send the message back unchanged (as Stream's JS SDK does on edits)
    edited = as_user(ann).request("POST", f"/messages/{message['id']}", json={"message": {
        "id": message["id"], "text": "hi again", "restricted_visibility": [cat]}})
    assert edited.status_code == 201, edited.text

    lifted = chat.update_message_partial(message["id"], {"unset": ["restricted_visibility"]}, ann)["message"]
    assert "restricted_visibility" not in lifted
    assert as_user(bob).request("GET", f"/messages/{message['id']}").status_code == 200


def test_thread_replies_are_counted_and_paged_from_the_newest(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    parent = channel.send_message({"text": "parent"}, ann)["message"]
    for i in range(10):
        reply = channel.send_message({"text": f"r{i}", "index": i, "parent_id": parent["id"]},
                                     bob if i % 2 else ann)["message"]
        assert reply["type"] == "reply"
        assert reply["parent_id"] == parent["id"]
    channel.send_message({"text": "also in channel", "parent_id": parent["id"], "show_in_channel": True}, ann)

    fetched = chat.get_message(parent["id"])["message"]
    assert fetched["reply_count"] == 11
    assert {u["id"] for u in fetched["thread_participants"]} == {ann, bob}

    in_channel = [m["text"] for m in channel.query(messages={"limit": 20})["messages"]]
    assert in_channel == ["parent", "also in channel"]

    latest = channel.get_replies(parent["id"], limit=3)["messages"]
    assert [m.get("index") for m in latest] == [8, 9, None]  # the newest three, oldest first
    older = channel.get_replies(parent["id"], limit=3, id_lt=latest[0]["id"])["messages"]
    assert [m["index"] for m in older] == [5, 6, 7]


def test_query_threads_and_get_thread_answer_a_thread_the_user_takes_part_in(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    parent = channel.send_message({"text": "topic"}, ann)["message"]
    for text in ("one", "two", "three"):
        channel.send_message({"text": text, "parent_id": parent["id"]}, bob)
    other = channel.send_message({"text": "other topic"}, ann)["message"]
    channel.send_message({"text": "x", "parent_id": other["id"]}, ann)

    threads = chat.query_threads(filter={"parent_id": parent["id"]}, user_id=ann)["threads"]
    assert [t["parent_message_id"] for t in threads] == [parent["id"]]
    assert [r["text"] for r in threads[0]["latest_replies"]] == ["two", "three"]
    assert threads[0]["reply_count"] == 3
    assert threads[0]["channel"]["cid"] == channel.cid

    mine = chat.query_threads(user_id=bob, limit=1)
    assert len(mine["threads"]) == 1

    thread = chat.get(f"threads/{parent['id']}", {"user_id": ann, "reply_limit": 1})["thread"]
    assert thread["parent_message"]["id"] == parent["id"]
    assert [r["text"] for r in thread["latest_replies"]] == ["three"]


def test_a_quoted_message_carries_the_message_it_quotes(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    original = channel.send_message({"text": "original"}, ann)["message"]
    quote = channel.send_message({"text": "quoting", "quoted_message_id": original["id"]}, bob)["message"]
    assert quote["quoted_message_id"] == original["id"]
    assert quote["quoted_message"]["text"] == "original"
    in_state = next(m for m in channel.query(messages={"limit": 10})["messages"] if m["id"] == quote["id"])
    assert in_state["quoted_message"]["id"] == original["id"]


def test_mentioned_users_are_answered_as_user_objects(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann = make_users(1, name="Ann")[0]
    bob = make_users(1, name="Bob")[0]
    channel = make_channel(ann, [ann, bob])
    message = channel.send_message({"text": f"hi @{bob}", "mentioned_users": [bob]}, ann)["message"]
    assert [u["id"] for u in message["mentioned_users"]] == [bob]
    assert message["mentioned_users"][0]["name"] == "Bob"


def test_a_pinned_message_is_listed_until_its_pin_expires(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    message = channel.send_message({"text": "pin me"}, user)["message"]
    expires = (datetime.now(UTC) + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    pinned = chat.update_message_partial(message["id"], {"set": {"pinned": True, "pin_expires": expires}},
                                         user)["message"]
    assert pinned["pinned"] is True
    assert pinned["pinned_by"]["id"] == user
    assert pinned["pinned_at"]
    assert pinned["pin_expires"]
    assert [m["id"] for m in channel.query()["pinned_messages"]] == [message["id"]]

    time.sleep(2.5)
    assert channel.query()["pinned_messages"] == []

    chat.pin_message(message["id"], user)
    unpinned = chat.unpin_message(message["id"], user)["message"]
    assert unpinned["pinned"] is False and unpinned["pinned_at"] is None


def test_silent_and_system_messages_keep_their_kind(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    silent = channel.send_message({"text": "shh", "silent": True}, user)["message"]
    assert silent["silent"] is True
    system = channel.send_message({"text": "user joined", "type": "system"}, user)["message"]
    assert system["type"] == "system"


# -- reactions -----------------------------------------------------------------------------------


def test_reactions_keep_counts_scores_latest_and_own_reactions_right(
    chat: StreamChat, as_user: Callable[[str], UserSession],
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    message = channel.send_message({"text": "react"}, ann)["message"]
    channel.send_reaction(message["id"], {"type": "love"}, ann)
    channel.send_reaction(message["id"], {"type": "love"}, bob)
    after = channel.send_reaction(message["id"], {"type": "clap", "score": 5}, bob)["message"]
    assert after["reaction_counts"] == {"love": 2, "clap": 1}
    assert after["reaction_scores"] == {"love": 2, "clap": 5}
    assert {(r["type"], r["user_id"]) for r in after["latest_reactions"]} == {
        ("love", ann), ("love", bob), ("clap", bob)}

    as_ann = as_user(ann).request("GET", f"/messages/{message['id']}")
    assert as_ann.status_code == 200, as_ann.text
    assert [r["type"] for r in as_ann.json()["message"]["own_reactions"]] == ["love"]

    removed = channel.delete_reaction(message["id"], "love", bob)["message"]
    assert removed["reaction_counts"] == {"love": 1, "clap": 1}
    assert {(r["type"], r["user_id"]) for r in removed["latest_reactions"]} == {("love", ann), ("clap", bob)}


def test_enforce_unique_replaces_the_users_previous_reaction(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    message = channel.send_message({"text": "pick one"}, user)["message"]
    channel.send_reaction(message["id"], {"type": "love"}, user)
    response = chat.post(f"messages/{message['id']}/reaction",
                         data={"reaction": {"type": "like", "user_id": user}, "enforce_unique": True})
    assert response["message"]["reaction_counts"] == {"like": 1}
    assert [r["type"] for r in response["message"]["latest_reactions"]] == ["like"]


def test_reactions_are_listed_with_limit_and_offset(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    users = make_users(3)
    channel = make_channel(users[0], users)
    message = channel.send_message({"text": "many"}, users[0])["message"]
    assert channel.get_reactions(message["id"])["reactions"] == []
    for user in users:
        channel.send_reaction(message["id"], {"type": "wave"}, user)
    assert len(channel.get_reactions(message["id"])["reactions"]) == 3
    page = channel.get_reactions(message["id"], limit=2, offset=2)["reactions"]
    assert len(page) == 1


# -- read state ----------------------------------------------------------------------------------


def test_unread_counts_follow_messages_from_others_and_mark_read_resets_them(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    for i in range(3):
        channel.send_message({"text": f"from bob {i}"}, bob)
    channel.send_message({"text": "from ann"}, ann)

    read = {r["user"]["id"]: r for r in channel.query()["read"]}
    assert read[ann]["unread_messages"] == 0  # sending marks the sender's channel read
    assert read[bob]["unread_messages"] == 1

    channel.send_message({"text": "one more"}, bob)
    assert chat.unread_counts(ann)["total_unread_count"] == 1
    for i in range(2):
        channel.send_message({"text": f"and {i}"}, bob)
    unread = chat.unread_counts(ann)
    assert unread["total_unread_count"] == 3
    assert [(c["channel_id"], c["unread_count"]) for c in unread["channels"]] == [(channel.cid, 3)]

    event = channel.mark_read(ann)["event"]
    assert event["type"] == "message.read"
    assert chat.unread_counts(ann)["total_unread_count"] == 0
    read = {r["user"]["id"]: r for r in channel.query()["read"]}
    assert read[ann]["unread_messages"] == 0
    assert read[ann]["last_read_message_id"]


def test_mark_unread_from_a_message_counts_it_and_every_later_message(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    ids = [channel.send_message({"text": f"m{i}"}, bob)["message"]["id"] for i in range(5)]
    channel.mark_read(ann)
    channel.mark_unread(ann, message_id=ids[2])
    assert chat.unread_counts(ann)["total_unread_count"] == 3
    read = {r["user"]["id"]: r for r in channel.query()["read"]}
    assert read[ann]["unread_messages"] == 3


def test_mark_all_read_clears_every_channel_of_the_user(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    first = make_channel(ann, [ann, bob])
    second = make_channel(ann, [ann, bob])
    first.send_message({"text": "a"}, bob)
    second.send_message({"text": "b"}, bob)
    second.send_message({"text": "c"}, bob)
    assert chat.unread_counts(ann)["total_unread_count"] == 3
    chat.mark_all_read(ann)
    assert chat.unread_counts(ann)["total_unread_count"] == 0


def test_unread_batch_reports_each_user_and_thread_unreads(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob, cid = make_users(3)
    channel = make_channel(ann, [ann, bob, cid])
    parent = channel.send_message({"text": "hello all"}, ann)["message"]
    batch = chat.unread_counts_batch([bob, cid])["counts_by_user"]
    assert batch[bob]["total_unread_count"] == 1
    assert batch[cid]["total_unread_count"] == 1

    channel.send_message({"text": "me too", "parent_id": parent["id"]}, bob)  # bob joins the thread
    channel.send_message({"text": "news", "parent_id": parent["id"]}, ann)
    batch = chat.unread_counts_batch([bob])["counts_by_user"]
    assert batch[bob]["total_unread_threads_count"] == 1
    assert [t["parent_message_id"] for t in batch[bob]["threads"]] == [parent["id"]]


# -- search --------------------------------------------------------------------------------------


def test_search_finds_text_only_within_the_channel_filter(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    word = "zq" + uuid.uuid4().hex[:10]
    here = make_channel(user, [user])
    there = make_channel(user, [user])
    here.send_message({"text": f"the {word} is here"}, user)
    here.send_message({"text": "nothing to see"}, user)
    there.send_message({"text": f"another {word}"}, user)

    results = chat.search({"cid": here.cid}, word)["results"]
    assert [r["message"]["text"] for r in results] == [f"the {word} is here"]
    both = chat.search({"cid": {"$in": [here.cid, there.cid]}}, word)["results"]
    assert len(both) == 2


def test_search_applies_message_filter_conditions(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    word = "zq" + uuid.uuid4().hex[:10]
    channel = make_channel(ann, [ann, bob])
    channel.send_message({"text": f"{word} from ann", "topic": "x"}, ann)
    channel.send_message({"text": f"{word} from bob", "topic": "y"}, bob)

    by_user = chat.search({"cid": channel.cid}, {"text": {"$q": word}, "user.id": {"$eq": bob}})["results"]
    assert [r["message"]["text"] for r in by_user] == [f"{word} from bob"]
    by_field = chat.search({"cid": channel.cid}, {"$and": [{"text": {"$autocomplete": word[:8]}},
                                                           {"topic": {"$eq": "x"}}]})["results"]
    assert [r["message"]["text"] for r in by_field] == [f"{word} from ann"]


def test_search_pages_with_the_next_cursor(
    chat: StreamChat, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    word = "zq" + uuid.uuid4().hex[:10]
    channel = make_channel(user, [user])
    for i in range(5):
        channel.send_message({"text": f"{word} number {i}", "n": i}, user)

    seen: list[int] = []
    page = chat.search({"cid": channel.cid}, word, sort=[{"n": 1}], limit=2)
    seen += [r["message"]["n"] for r in page["results"]]
    while page.get("next"):
        # the cursor carries the sort: Stream's docs send only `next` for the following pages
        page = chat.search({"cid": channel.cid}, word, limit=2, next=page["next"])
        seen += [r["message"]["n"] for r in page["results"]]
    assert seen == [0, 1, 2, 3, 4]
    assert page.get("previous")

    offset_page = chat.search({"cid": channel.cid}, word, limit=2, offset=4)["results"]
    assert len(offset_page) == 1


# -- events, app settings, rate limits -----------------------------------------------------------


def test_typing_and_custom_channel_events_are_accepted_and_echoed(
    make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    typing = channel.send_event({"type": "typing.start"}, user)["event"]
    assert typing["type"] == "typing.start"
    assert typing["cid"] == channel.cid
    assert typing["user"]["id"] == user
    custom = channel.send_event({"type": "game.move", "square": "e4"}, user)["event"]
    assert custom["type"] == "game.move"
    assert custom["square"] == "e4"


def test_a_custom_user_event_is_accepted(chat: StreamChat, make_users: Callable[..., list[str]]) -> None:
    (user,) = make_users(1)
    response = chat.send_user_custom_event(user, {"type": "friendship_request", "text": "hi"})
    assert "duration" in response


def test_app_settings_are_read_and_updated(chat: StreamChat) -> None:
    app = chat.get_app_settings()
    assert set(app) == {"app", "duration"}
    assert "messaging" in app["app"]["channel_configs"]
    original = app["app"].get("enforce_unique_usernames", "no")
    chat.update_app_settings(enforce_unique_usernames="app")
    try:
        assert chat.get_app_settings()["app"]["enforce_unique_usernames"] == "app"
    finally:
        chat.update_app_settings(enforce_unique_usernames=original)


def test_every_response_carries_rate_limit_headers(chat: StreamChat) -> None:
    response = chat.get_app_settings()
    limit = response.rate_limit()
    assert limit is not None
    assert limit.limit > 0
    assert 0 <= limit.remaining < limit.limit
    assert limit.reset > datetime.now(UTC) - timedelta(seconds=1)


def test_get_rate_limits_names_stream_endpoints_and_counts_the_calls_made(chat: StreamChat) -> None:
    chat.get_rate_limits()
    every = chat.get_rate_limits(server_side=True)["server_side"]
    assert {"GetRateLimits", "SendMessage", "QueryChannels"} <= set(every)
    response = chat.get_rate_limits(server_side=True, android=True,
                                    endpoints=["GetRateLimits", "SendMessage"])
    assert set(response["server_side"]) == {"GetRateLimits", "SendMessage"}
    assert "ios" not in response and "web" not in response
    server_side = response["server_side"]["GetRateLimits"]
    assert server_side["remaining"] < server_side["limit"]
    android = response["android"]["GetRateLimits"]
    assert android["remaining"] == android["limit"]


# -- errors --------------------------------------------------------------------------------------


def test_a_bad_api_key_is_rejected_as_unauthorised(server: Server) -> None:
    client = StreamChat("not-a-key", server.api_secret, base_url=server.chat_url)
    with pytest.raises(StreamAPIException) as excinfo:
        client.get_app_settings()
    assert api_error(excinfo) == (401, 2)


def test_a_token_signed_with_another_secret_is_rejected_as_unauthorised(server: Server) -> None:
    client = StreamChat(server.api_key, "not-the-secret-" + "x" * 32, base_url=server.chat_url)
    with pytest.raises(StreamAPIException) as excinfo:
        client.get_app_settings()
    assert excinfo.value.status_code == 401
    assert excinfo.value.error_code in (2, 5, 43)


def test_an_expired_user_token_is_rejected_with_code_40(
    server: Server, make_users: Callable[..., list[str]], make_channel: Callable[..., Channel]
) -> None:
    (user,) = make_users(1)
    channel = make_channel(user, [user])
    expired = jwt.encode({"user_id": user, "iat": int(time.time()) - 120, "exp": int(time.time()) - 60},
                         server.api_secret, algorithm="HS256")
    session = UserSession(server, user, expired)
    try:
        response = session.request("POST", f"/channels/messaging/{channel.id}/query", json={"state": True})
    finally:
        session.close()
    assert response.status_code == 401
    assert response.json()["code"] == 40


def test_a_member_reads_and_writes_a_messaging_channel_with_a_user_token(
    as_user: Callable[[str], UserSession], make_users: Callable[..., list[str]],
    make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    bob_session = as_user(bob)
    sent = bob_session.request("POST", f"/channels/messaging/{channel.id}/message",
                               json={"message": {"text": "from the client"}})
    assert sent.status_code in (200, 201), sent.text
    assert sent.json()["message"]["user"]["id"] == bob
    state = bob_session.request("POST", f"/channels/messaging/{channel.id}/query",
                                json={"state": True, "messages": {"limit": 5}})
    assert state.status_code in (200, 201), state.text
    assert [m["text"] for m in state.json()["messages"]] == ["from the client"]
    assert state.json()["membership"]["user_id"] == bob


def test_a_non_member_cannot_read_a_messaging_channel_with_a_user_token(
    as_user: Callable[[str], UserSession], make_users: Callable[..., list[str]],
    make_channel: Callable[..., Channel]
) -> None:
    ann, outsider = make_users(2)
    channel = make_channel(ann, [ann])
    channel.send_message({"text": "private"}, ann)
    response = as_user(outsider).request("POST", f"/channels/messaging/{channel.id}/query",
                                         json={"state": True, "messages": {"limit": 5}})
    assert response.status_code == 403
    assert response.json()["code"] == 17


def test_a_user_cannot_edit_someone_elses_message(
    as_user: Callable[[str], UserSession], make_users: Callable[..., list[str]],
    make_channel: Callable[..., Channel]
) -> None:
    ann, bob = make_users(2)
    channel = make_channel(ann, [ann, bob])
    message = channel.send_message({"text": "mine"}, ann)["message"]
    response = as_user(bob).request("POST", f"/messages/{message['id']}",
                                    json={"message": {"id": message["id"], "text": "hijacked"}})
    assert response.status_code == 403
    assert response.json()["code"] == 17
    own = as_user(ann).request("POST", f"/messages/{message['id']}",
                               json={"message": {"id": message["id"], "text": "edited"}})
    assert own.status_code in (200, 201), own.text


def test_unknown_ids_answer_404_with_code_16(chat: StreamChat) -> None:
    for call in (lambda: chat.get_message(new_id("nope")),
                 lambda: chat.get_channel_type(new_id("nope")),
                 lambda: chat.get_task(str(uuid.uuid4()))):
        with pytest.raises(StreamAPIException) as excinfo:
            call()
        assert api_error(excinfo) == (404, 16)


def test_malformed_json_answers_400_with_code_4(server: Server) -> None:
    response = httpx.post(f"{server.chat_url}/users", content=b'{"users": {not json',
                          params={"api_key": server.api_key},
                          headers={"Authorization": server_token(server), "stream-auth-type": "jwt",
                                   "Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 4
    assert body["StatusCode"] == 400
    assert "duration" in body


# -- the async client ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def async_chat(server: Server) -> AsyncIterator[StreamChatAsync]:
    """StreamChatAsync exactly as an app builds it, on the base URL the README documents for it.

    aiohttp rejects a base URL with a path and no trailing slash, and StreamChatAsync requests
    ``"/" + path``, which drops any path prefix; so townhall serves the chat API at the host's
    root as well as at /chat, and the async SDK is pointed at the root.
    """
    async with StreamChatAsync(server.api_key, server.api_secret, base_url=server.base_url + "/",
                               timeout=15) as client:
        yield client


async def test_the_async_sdk_reaches_the_chat_api_at_the_documented_base_url(server: Server) -> None:
    async with async_chat(server) as client:
        app = await client.get_app_settings()
    assert "app" in app


async def test_the_async_sdk_sends_a_message_once_and_reads_it_back(server: Server) -> None:
    async with async_chat(server) as client:
        ann, bob = new_id("u"), new_id("u")
        await client.upsert_users([{"id": ann}, {"id": bob}])
        channel = client.channel("messaging", new_id("c"), {"members": [ann, bob]})
        await channel.create(ann)
        message_id = new_id("m")
        await channel.send_message({"id": message_id, "text": "async hello"}, ann)
        with contextlib.suppress(StreamAPIException):
            await channel.send_message({"id": message_id, "text": "async hello"}, ann)
        state = await channel.query(messages={"limit": 10})
        assert [m["id"] for m in state["messages"]] == [message_id]
        unread = await client.unread_counts(bob)
        assert unread["total_unread_count"] == 1
        reacted = await channel.send_reaction(message_id, {"type": "love"}, bob)
        assert reacted["message"]["reaction_counts"] == {"love": 1}


async def test_the_async_sdk_polls_a_bulk_deletion_task_to_completion(server: Server) -> None:
    async with async_chat(server) as client:
        users = [new_id("u"), new_id("u")]
        await client.upsert_users([{"id": u} for u in users])
        response = await client.delete_users(users, "hard")
        deadline = time.monotonic() + TASK_TIMEOUT
        task = await client.get_task(response["task_id"])
        while task["status"] != "completed" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            task = await client.get_task(response["task_id"])
        assert task["status"] == "completed"
        found = await client.query_users({"id": {"$in": users}})
        assert found["users"] == []


async def test_the_async_sdk_sees_rate_limit_headers_and_api_errors(server: Server) -> None:
    async with async_chat(server) as client:
        response = await client.get_app_settings()
        assert response.status_code() == 200
        with pytest.raises(StreamAPIException) as excinfo:
            await client.get_message(new_id("nope"))
        assert api_error(excinfo) == (404, 16)
