"""Sign-in, tokens, the waitlist and invites."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.common.sms import code_policy
from townhall.api.social.http import (
    AuthError,
    SocialCaller,
    SocialError,
    bool_param,
    client_address,
    container_of,
    endpoint,
    json_response,
    list_param,
    ok,
    params,
    signed_in,
    user_id_param,
)
from townhall.api.social.render import user_profile
from townhall.core.accounts import profiles, sessions, signin
from townhall.core.errors import Forbidden, RateLimited
from townhall.core.social import graph, invites, notifications
from townhall.integrations.sms import SmsError

router = APIRouter(tags=["accounts"])

TOKEN_NOT_VALID = {"detail": "Token is invalid or expired", "code": "token_not_valid"}


async def _send_code(request: Request, data: dict[str, Any], *, call: bool = False) -> Response:
    container = container_of(request)
    try:
        async with container.uow() as uow:
            issued = await signin.do_request_code(uow, data.get("phone_number"), client_address(request),
                                                  code_policy(container_of(request)))
    except RateLimited as exc:  # the seed documents "throttled" as an HTTP 200 answer
        return json_response({"success": False, "error_message": exc.message})
    if issued.code is None:
        return ok(is_blocked=True, error_message=None, number_of_attempts_remaining=issued.attempts_remaining)
    phone = signin.normalize_phone(data.get("phone_number"))
    body = f"Your townhall verification code is {issued.code}"
    if call:
        body += " (you asked for a call; this server sends codes by text message)"
    try:
        await request.app.state.sms.send(phone, body)
    except SmsError as exc:
        raise SocialError(str(exc), 502, is_blocked=False) from exc
    return ok(is_blocked=False, error_message=None, number_of_attempts_remaining=issued.attempts_remaining)


@endpoint(router, "start_phone_number_auth", example={"phone_number": "+14155550100"})
async def start_phone_number_auth(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """Text a sign-in code to ``phone_number``."""
    return await _send_code(request, data)


@endpoint(router, "resend_phone_number_auth", example={"phone_number": "+14155550100"})
async def resend_phone_number_auth(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """Text a new code (the previous one stops working)."""
    return await _send_code(request, data)


@endpoint(router, "call_phone_number_auth", example={"phone_number": "+14155550100"})
async def call_phone_number_auth(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """A new code; townhall has no voice calls, so it is texted as well."""
    return await _send_code(request, data, call=True)


async def _signed_in_answer(request: Request, user_id: int, session_tokens: sessions.Tokens | None = None,
                            auth_token: str | None = None, session_id: int | None = None) -> dict[str, Any]:
    container = container_of(request)
    social = container.settings.social
    async with container.read() as conn:
        me = await profiles.access_profile(conn, user_id)
        session = await sessions.session_by_id(conn, session_id) if session_tokens is None and session_id else None
    out: dict[str, Any] = {"user_profile": user_profile(me), "is_waitlisted": me.waitlisted,
                           "is_onboarding": me.username is None}
    if session_tokens is not None:
        out.update(auth_token=session_tokens.auth_token, access_token=session_tokens.access_token,
                   refresh_token=session_tokens.refresh_token)
    elif session is not None:  # tokens of the session's current refresh generation
        access, refresh = sessions.issue_jwts(container.credentials.social_jwt_secret, user_id, session.session_id,
                                              social.access_token_ttl, social.refresh_token_ttl,
                                              session.refresh_generation)
        out.update(auth_token=auth_token, access_token=access, refresh_token=refresh)
    return out


@endpoint(router, "complete_phone_number_auth", example={"phone_number": "+14155550100", "verification_code": "1234"})
async def complete_phone_number_auth(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """Check the code; on success the account (created on first sign-in) and its tokens."""
    container = container_of(request)
    social = container.settings.social
    policy = code_policy(container_of(request))
    try:
        async with container.uow() as uow:
            check = await signin.do_check_code(uow, data.get("phone_number"), data.get("verification_code"),
                                               client_address(request), policy)
    except RateLimited as exc:  # the envelope of a refused code, as start_phone_number_auth's throttle
        check = signin.CodeCheck(False, 0, exc.message)
    if not check.verified:
        return json_response({"success": False, "is_verified": False, "error_message": check.message,
                              "number_of_attempts_remaining": check.attempts_remaining}, 400)
    phone = signin.normalize_phone(data.get("phone_number"))
    device = request.headers.get("ch-deviceid")
    try:
        async with container.uow() as uow:
            account = await invites.do_open_account(uow, phone, waitlist=social.signup_policy == "waitlist",
                                                    invites_per_user=social.invites_per_user)
            tokens = await sessions.do_create_session(
                uow, account.user_id, secret=policy.secret, access_ttl=social.access_token_ttl,
                refresh_ttl=social.refresh_token_ttl, device_id=device)
    except Forbidden as exc:
        if exc.code == "banned":
            raise AuthError("You do not have permission to perform this action.", 403) from exc
        raise
    return ok(is_verified=True, **await _signed_in_answer(request, account.user_id, tokens))


@endpoint(router, "refresh_token", example={"refresh": "<refresh_token>"})
async def refresh_token(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """``{refresh}`` → ``{access, refresh}``: the refresh token is used up (a new one comes back);
    401 ``token_not_valid`` for a bad, revoked or already used one (which revokes its session)."""
    container = container_of(request)
    social = container.settings.social
    token = data.get("refresh")
    if not isinstance(token, str) or not token:
        return json_response(TOKEN_NOT_VALID, 401)
    async with container.uow() as uow:
        tokens = await sessions.do_rotate_refresh_token(
            uow, token, secret=container.credentials.social_jwt_secret, access_ttl=social.access_token_ttl,
            refresh_ttl=social.refresh_token_ttl)
    if tokens is None:
        return json_response(TOKEN_NOT_VALID, 401)
    access, refresh = tokens
    return json_response({"access": access, "refresh": refresh})


@endpoint(router, "logout")
async def logout(request: Request, caller: SocialCaller = Depends(signed_in)) -> Response:
    """Revoke this session: its auth_token, access and refresh tokens stop working."""
    async with container_of(request).uow() as uow:
        await sessions.do_revoke_session(uow, caller.session_id)
    return ok()


@endpoint(router, "me",
          example={"return_blocked_ids": True, "return_following_ids": True, "timezone_identifier": "UTC"})
async def me(request: Request, data: dict[str, Any] = Depends(params),
             caller: SocialCaller = Depends(signed_in)) -> Response:
    container = container_of(request)
    async with container.read() as conn:
        profile = await profiles.access_profile(conn, caller.user_id)
        unread, actionable = await notifications.counts(conn, caller.user_id)
        settings = await notifications.get_settings(conn, caller.user_id)
        following_ids = (await graph.following_ids(conn, caller.user_id)
                         if bool_param(data, "return_following_ids") else None)
        blocked_ids = (await graph.blocked_ids(conn, caller.user_id)
                       if bool_param(data, "return_blocked_ids") else None)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    tokens = await _signed_in_answer(request, caller.user_id, session_id=caller.session_id,
                                     auth_token=token.strip() if scheme.lower() == "token" else None)
    return ok(
        user_profile=user_profile(profile), num_invites=profile.num_invites, email=profile.email,
        is_admin=caller.is_admin, has_unread_notifications=unread > 0,
        actionable_notifications_count=actionable, notifications_enabled=not settings.is_paused,
        following_ids=following_ids, blocked_ids=blocked_ids, feature_flags=[],
        is_waitlisted=profile.waitlisted, is_onboarding=profile.username is None,
        auth_token=tokens.get("auth_token"), access_token=tokens.get("access_token"),
        refresh_token=tokens.get("refresh_token"),
    )


@endpoint(router, "check_waitlist_status")
async def check_waitlist_status(request: Request, caller: SocialCaller = Depends(signed_in)) -> Response:
    async with container_of(request).read() as conn:
        profile = await profiles.access_profile(conn, caller.user_id)
    return ok(is_waitlisted=profile.waitlisted, is_onboarding=profile.username is None)


@endpoint(router, "invite_to_app", example={"name": "John Smith", "phone_number": "+14155550100", "message": None})
async def invite_to_app(request: Request, data: dict[str, Any] = Depends(params),
                        caller: SocialCaller = Depends(signed_in)) -> Response:
    """Spend an invite on ``phone_number``: that number skips the waitlist."""
    container = container_of(request)
    async with container.uow() as uow:
        await invites.do_invite_to_app(uow, caller.user_id, data.get("phone_number"), name=data.get("name"),
                                       message=data.get("message"),
                                       invites_per_user=container.settings.social.invites_per_user)
        num = (await profiles.access_profile(uow.conn, caller.user_id)).num_invites
    return ok(num_invites=num)


@endpoint(router, "invite_from_waitlist", example={"user_id": 1234})
async def invite_from_waitlist(request: Request, data: dict[str, Any] = Depends(params),
                               caller: SocialCaller = Depends(signed_in)) -> Response:
    """Let someone waiting on the waitlist in."""
    container = container_of(request)
    user_id = user_id_param(data)
    assert user_id is not None
    async with container.uow() as uow:
        await invites.do_invite_from_waitlist(uow, caller.user_id, user_id,
                                              container.settings.social.invites_per_user)
    return ok()


async def contacts_of_request(request: Request, caller: SocialCaller, data: dict[str, Any]) -> dict[str, str | None]:
    """The request's ``contacts``: kept when ``upload_contacts`` (the default), else only used for
    this answer (returned)."""
    entries = list_param(data, "contacts")
    if not entries:
        return {}
    if not bool_param(data, "upload_contacts", True):
        return invites.parse_contacts(entries)
    async with container_of(request).uow() as uow:
        await invites.do_upload_contacts(uow, caller.user_id, entries)
    return {}


@endpoint(router, "upload_contacts", example={"contacts": [{"name": "John", "phone_number": "+14155550100"}]})
async def upload_contacts(request: Request, data: dict[str, Any] = Depends(params),
                          caller: SocialCaller = Depends(signed_in)) -> Response:
    entries = list_param(data, "contacts")
    async with container_of(request).uow() as uow:
        kept = await invites.do_upload_contacts(uow, caller.user_id, entries)
    return ok(num_contacts=kept)


@endpoint(router, "get_suggested_invites",
          example={"club_id": None, "upload_contacts": True, "contacts": [{"phone_number": "+14155550100"}]})
async def get_suggested_invites(request: Request, data: dict[str, Any] = Depends(params),
                                caller: SocialCaller = Depends(signed_in)) -> Response:
    """Contacts (uploaded now or before) who are not here yet, the best known first."""
    given = await contacts_of_request(request, caller, data)
    async with container_of(request).read() as conn:
        found = await invites.suggested_invites(conn, caller.user_id, given)
        num = (await profiles.access_profile(conn, caller.user_id)).num_invites
    return ok(num_invites=num, suggested_invites=[
        {"phone_number": s.phone_number, "name": s.name, "in_app": s.in_app, "is_invited": s.is_invited,
         "num_friends": s.num_friends} for s in found])
