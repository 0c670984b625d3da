"""Phone sign-in, tokens, logout, bans and the waitlist of the social surface."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from townhall.container import Container
from townhall.core.accounts import signin

from .conftest import API, SignIn, http_client, last_code, random_address, random_phone, sign_in, unique_username


async def test_a_new_number_signs_in_with_the_texted_code_and_gets_tokens(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    body = member.signin
    assert body["success"] is True and body["is_verified"] is True
    assert body["is_waitlisted"] is False and body["is_onboarding"] is True
    assert body["user_profile"] == {"user_id": member.user_id, "name": None, "photo_url": None, "username": None}
    assert body["auth_token"] and body["access_token"].count(".") == 2 and body["refresh_token"].count(".") == 2
    me = await member.ok("me")
    assert me["user_profile"]["user_id"] == member.user_id and me["num_invites"] > 0
    await member.http.aclose()


async def test_signing_in_again_opens_the_same_account(app: FastAPI, container: Container) -> None:
    first = await sign_in(app, container)
    again = await sign_in(app, container, first.phone)
    assert again.user_id == first.user_id and again.auth_token != first.auth_token


async def test_numbers_are_normalised_to_e164(app: FastAPI, container: Container) -> None:
    phone = random_phone()
    async with http_client(app) as http:
        answer = await http.post(f"{API}/start_phone_number_auth", json={"phone_number": phone[1:]})
        assert answer.json()["success"] is True
        assert (await last_code(container, phone)).isdigit()
        bad = await http.post(f"{API}/start_phone_number_auth", json={"phone_number": "not a number"})
        assert bad.status_code == 400
        assert bad.json() == {"success": False, "error_message": "Please enter a valid phone number."}


async def test_a_wrong_code_costs_an_attempt_and_the_code_dies_after_the_last(app: FastAPI, container: Container) -> None:
    phone = random_phone()
    async with http_client(app) as http:
        await http.post(f"{API}/start_phone_number_auth", json={"phone_number": phone})
        code = await last_code(container, phone)
        wrong = "0000" if code != "0000" else "1111"
        remaining = []
        for _ in range(container.settings.social.code_attempts):
            answer = await http.post(f"{API}/complete_phone_number_auth",
                                     json={"phone_number": phone, "verification_code": wrong})
            assert answer.status_code == 400
            assert answer.json()["success"] is False and answer.json()["is_verified"] is False
            remaining.append(answer.json()["number_of_attempts_remaining"])
        assert remaining == list(range(container.settings.social.code_attempts - 1, -1, -1))
        late = await http.post(f"{API}/complete_phone_number_auth", json={"phone_number": phone,
                                                                          "verification_code": code})
        assert late.status_code == 400 and late.json()["error_message"] == signin.EXPIRED_CODE


async def test_guessing_is_capped_per_number_per_day_across_codes(app: FastAPI, container: Container) -> None:
    phone = random_phone()
    async with http_client(app) as http:
        for _ in range(2):
            await http.post(f"{API}/resend_phone_number_auth", json={"phone_number": phone})
            code = await last_code(container, phone)
            for _ in range(container.settings.social.code_attempts):
                await http.post(f"{API}/complete_phone_number_auth",
                                json={"phone_number": phone, "verification_code": "x" + code})
        await http.post(f"{API}/start_phone_number_auth", json={"phone_number": phone})
        right = await http.post(f"{API}/complete_phone_number_auth",
                                json={"phone_number": phone, "verification_code": await last_code(container, phone)})
        # the envelope of a refused code (HTTP 400 like a wrong one, success false as the send throttle)
        assert right.status_code == 400
        assert right.json() == {"success": False, "is_verified": False, "error_message": signin.THROTTLED,
                                "number_of_attempts_remaining": 0}


async def test_a_code_works_once(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    code = await last_code(container, member.phone)
    reused = await member.http.post(f"{API}/complete_phone_number_auth",
                                    json={"phone_number": member.phone, "verification_code": code})
    assert reused.status_code == 400 and reused.json()["is_verified"] is False


async def test_sending_codes_is_throttled_per_number_with_the_seeds_http_200_answer(app: FastAPI, container: Container) -> None:
    phone = random_phone()
    limit = container.settings.social.sends_per_number_per_hour
    seen = []
    for _ in range(limit):
        async with http_client(app) as http:  # a new address each time: only the number counts
            answer = await http.post(f"{API}/resend_phone_number_auth", json={"phone_number": phone})
            assert answer.status_code == 200, answer.text
            seen.append(answer.json()["number_of_attempts_remaining"])
    assert seen == list(range(limit - 1, -1, -1))
    async with http_client(app) as http:
        throttled = await http.post(f"{API}/start_phone_number_auth", json={"phone_number": phone})
    assert throttled.status_code == 200
    assert throttled.json() == {"success": False, "error_message": signin.THROTTLED}


async def test_sending_codes_is_throttled_per_client_address(app: FastAPI, container: Container) -> None:
    address = random_address()
    limit = container.settings.social.sends_per_address_per_hour
    async with http_client(app, address) as http:
        for _ in range(limit):
            answer = await http.post(f"{API}/start_phone_number_auth", json={"phone_number": random_phone()})
            assert answer.status_code == 200
        throttled = await http.post(f"{API}/call_phone_number_auth", json={"phone_number": random_phone()})
        assert throttled.status_code == 200
        assert throttled.json() == {"success": False, "error_message": signin.THROTTLED}


async def test_bearer_access_tokens_work_and_refresh_gives_new_ones(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    bearer = {"Authorization": f"Bearer {member.access_token}"}
    me = await member.http.post(f"{API}/me", json={}, headers=bearer)
    assert me.status_code == 200 and me.json()["user_profile"]["user_id"] == member.user_id
    fresh = await member.http.post(f"{API}/refresh_token", json={"refresh": member.refresh_token})
    assert fresh.status_code == 200 and set(fresh.json()) == {"access", "refresh"}
    again = await member.http.post(f"{API}/me", headers={"Authorization": f"Bearer {fresh.json()['access']}"})
    assert again.status_code == 200
    # an access token is no refresh token, and garbage is refused
    for bad in (member.access_token, "garbage", ""):
        refused = await member.http.post(f"{API}/refresh_token", json={"refresh": bad})
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Token is invalid or expired", "code": "token_not_valid"}


async def test_logout_revokes_the_auth_token_and_the_jwts_of_the_session(app: FastAPI, container: Container) -> None:
    member = await sign_in(app, container)
    other = await sign_in(app, container, member.phone)
    await member.ok("logout")
    for headers in ({"Authorization": f"Token {member.auth_token}"},
                    {"Authorization": f"Bearer {member.access_token}"}):
        refused = await member.http.post(f"{API}/me", headers=headers)
        assert refused.status_code == 401 and "detail" in refused.json()
    refresh = await member.http.post(f"{API}/refresh_token", json={"refresh": member.refresh_token})
    assert refresh.status_code == 401
    assert (await other.call("me")).status_code == 200  # the other session goes on


async def test_missing_and_bad_credentials_get_drf_errors(client: httpx.AsyncClient) -> None:
    missing = await client.post(f"{API}/check_waitlist_status")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided."}
    logged_out = await client.post(f"{API}/me", headers={"CH-UserID": "(null)"})
    assert logged_out.status_code == 401
    bad = await client.post(f"{API}/me", headers={"Authorization": "Token nope"})
    assert bad.status_code == 401 and bad.json() == {"detail": "Invalid token."}
    forged = await client.post(f"{API}/me", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401 and forged.json()["code"] == "token_not_valid"


async def test_a_banned_account_gets_403_and_cannot_get_a_code(
    app: FastAPI, container: Container, new_member: SignIn
) -> None:
    from sqlalchemy import update

    from townhall.core.accounts.tables import users

    member = await new_member()
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == member.user_id).values(banned=True))
    me = await member.call("me")
    assert me.status_code == 403
    assert me.json() == {"detail": "You do not have permission to perform this action."}
    started = await member.http.post(f"{API}/start_phone_number_auth", json={"phone_number": member.phone})
    assert started.json()["success"] is True and started.json()["is_blocked"] is True


async def test_check_waitlist_status_accepts_a_post_without_a_body(new_member: SignIn) -> None:
    member = await new_member()
    answer = await member.http.post(f"{API}/check_waitlist_status", headers={**member.headers, "Content-Length": "0"})
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "is_waitlisted": False, "is_onboarding": True}
    await member.ok("update_username", {"username": unique_username()})
    assert (await member.ok("check_waitlist_status", method="GET"))["is_onboarding"] is False


async def test_with_the_waitlist_policy_newcomers_wait_until_someone_lets_them_in(
    waitlist_app: tuple[FastAPI, Container]
) -> None:
    app, container = waitlist_app
    insider = await sign_in(app, container)
    # An existing (admitted) member: let the insider in by hand, as `townhall users admit` does.
    from townhall.core.social import invites

    async with container.uow() as uow:
        await invites.do_admit(uow, insider.user_id, invited_by=None, invites_per_user=3)
    newcomer = await sign_in(app, container)
    assert newcomer.signin["is_waitlisted"] is True
    assert (await newcomer.ok("check_waitlist_status"))["is_waitlisted"] is True
    refused = await newcomer.call("follow", {"user_id": insider.user_id})
    assert refused.status_code == 401
    assert refused.json() == {"success": False,
                              "error_message": "Your account is waitlisted. Please contact us if this is in error."}
    refused = await newcomer.call("invite_to_app", {"phone_number": random_phone()})
    assert refused.status_code == 400 and "waitlisted" in refused.json()["error_message"]

    stranger = await insider.call("invite_from_waitlist", {"user_id": newcomer.user_id})
    assert stranger.status_code == 400 and stranger.json()["error_message"] == "You can only let in people you know."
    await insider.ok("upload_contacts", {"contacts": [{"name": "New", "phone_number": newcomer.phone}]})
    await insider.ok("invite_from_waitlist", {"user_id": newcomer.user_id})
    assert (await newcomer.ok("check_waitlist_status"))["is_waitlisted"] is False
    assert (await insider.ok("me"))["num_invites"] == 2  # letting someone in spends an invite
    profile = (await insider.ok("get_profile", {"user_id": newcomer.user_id}))["user_profile"]
    assert profile["invited_by_user_profile"]["user_id"] == insider.user_id


async def test_an_invited_number_skips_the_waitlist_and_records_who_invited_it(
    waitlist_app: tuple[FastAPI, Container]
) -> None:
    app, container = waitlist_app
    insider = await sign_in(app, container)
    from townhall.core.social import invites

    async with container.uow() as uow:
        await invites.do_admit(uow, insider.user_id, invited_by=None, invites_per_user=2)
    friend_phone = random_phone()
    answer = await insider.ok("invite_to_app", {"name": "Friend", "phone_number": friend_phone, "message": None})
    assert answer["num_invites"] == 1
    again = await insider.ok("invite_to_app", {"name": "Friend", "phone_number": friend_phone})
    assert again["num_invites"] == 1  # the same number twice costs one invite
    friend = await sign_in(app, container, friend_phone)
    assert friend.signin["is_waitlisted"] is False
    profile = (await friend.ok("get_profile", {"user_id": friend.user_id}))["user_profile"]
    assert profile["invited_by_user_profile"]["user_id"] == insider.user_id
    notes = (await insider.ok("get_notifications"))["notifications"]
    assert notes[0]["type"] == 2 and notes[0]["user_profile"]["user_id"] == friend.user_id
    await insider.ok("invite_to_app", {"phone_number": random_phone()})
    spent = await insider.call("invite_to_app", {"phone_number": random_phone()})
    assert spent.status_code == 400 and spent.json()["error_message"] == "You don't have any invites left."
