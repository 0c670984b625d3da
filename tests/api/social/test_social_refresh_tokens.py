"""Refresh token rotation: a refresh token works once, a replayed one revokes its session."""

from __future__ import annotations

import asyncio

import jwt
from fastapi import FastAPI

from townhall.container import Container
from townhall.core.accounts import sessions

from .conftest import API, Member, sign_in

TOKEN_NOT_VALID = {"detail": "Token is invalid or expired", "code": "token_not_valid"}


async def _refresh(member: Member, token: str) -> tuple[int, dict[str, str]]:
    answer = await member.http.post(f"{API}/refresh_token", json={"refresh": token})
    return answer.status_code, answer.json()


async def _session_works(member: Member) -> bool:
    answer = await member.http.post(f"{API}/me", headers={"Authorization": f"Token {member.auth_token}"})
    return answer.status_code == 200


async def test_each_refresh_answers_a_new_refresh_token_and_the_old_one_stops_working(
        app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    status, first = await _refresh(member, member.refresh_token)
    assert status == 200 and first["refresh"] != member.refresh_token
    status, second = await _refresh(member, first["refresh"])
    assert status == 200 and second["refresh"] not in (first["refresh"], member.refresh_token)
    me = await member.http.post(f"{API}/me", headers={"Authorization": f"Bearer {second['access']}"})
    assert me.status_code == 200


async def test_replaying_a_used_refresh_token_revokes_the_whole_session(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    other = await sign_in(app, container, member.phone)  # another device of the same user
    status, fresh = await _refresh(member, member.refresh_token)
    assert status == 200
    assert await _refresh(member, member.refresh_token) == (401, TOKEN_NOT_VALID)  # the replay
    # everything of the session is gone: the newest refresh token, its access token, the auth token
    assert await _refresh(member, fresh["refresh"]) == (401, TOKEN_NOT_VALID)
    bearer = await member.http.post(f"{API}/me", headers={"Authorization": f"Bearer {fresh['access']}"})
    assert bearer.status_code == 401
    assert not await _session_works(member)
    assert await _session_works(other)


async def test_two_refreshes_racing_with_one_token_let_exactly_one_win(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    answers = await asyncio.gather(*(_refresh(member, member.refresh_token) for _ in range(2)))
    assert sorted(status for status, _ in answers) == [200, 401]
    # the loser presented a used token: a replay, so the session is revoked (no grace period)
    assert not await _session_works(member)


async def test_the_refresh_token_me_answers_is_the_current_one(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    status, fresh = await _refresh(member, member.refresh_token)
    assert status == 200
    me = (await member.ok("me"))["refresh_token"]
    status, again = await _refresh(member, me)
    assert status == 200
    assert await _refresh(member, fresh["refresh"]) == (401, TOKEN_NOT_VALID)  # same generation, used up
    assert not await _session_works(member)


async def test_a_refresh_token_from_before_rotation_works_once(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    async with container.read() as conn:
        info = await sessions.session_by_auth_token(conn, member.auth_token)
    assert info is not None
    legacy = sessions.encode_jwt(container.credentials.social_jwt_secret, kind="refresh", user_id=member.user_id,
                                 session_id=info.session_id, ttl=60)  # no generation claim
    status, _ = await _refresh(member, legacy)
    assert status == 200
    assert await _refresh(member, legacy) == (401, TOKEN_NOT_VALID)


async def test_a_refresh_token_with_a_malformed_generation_is_refused_without_revoking(
        app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    claims = jwt.decode(member.refresh_token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "gen": "0"}, container.credentials.social_jwt_secret, algorithm="HS256")
    assert await _refresh(member, forged) == (401, TOKEN_NOT_VALID)
    assert await _session_works(member)
