"""The authorization pages of the OAuth2 provider: ``GET /oauth/authorize`` signs the member in
and asks them to approve the application, then sends the browser to the application's redirect
URI with a ``code`` (and ``state``), or ``error=access_denied``.

Signing in: a phone number and the code texted to it (the social surface's sign-in: same codes,
throttles and accounts), or a social session token (``Authorization: Token <auth_token>`` on the
request, or pasted into the form). The page then remembers the member in a signed, short-lived
cookie (HttpOnly, SameSite=Lax). Every form carries a CSRF token that must match a cookie
(double submit), and the pages cannot be framed.

The authorization request travels between the steps as its original query string (the hidden
``authorize`` field) and is checked again at each step, approval included.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import jwt
from authlib.common.urls import add_params_to_uri
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from townhall.api.common.sms import code_policy
from townhall.api.experts.html import e, page
from townhall.api.experts.http import container_of, params
from townhall.container import Container
from townhall.core.accounts import profiles, sessions, signin
from townhall.core.errors import DomainError, Forbidden, Invalid, RateLimited, Unauthenticated
from townhall.core.experts import oauth
from townhall.core.social import invites
from townhall.integrations.sms import SmsError

router = APIRouter(tags=["oauth"])

SESSION_COOKIE = "townhall_experts_session"
CSRF_COOKIE = "townhall_experts_csrf"
SESSION_AUDIENCE = "townhall:experts:authorize"
CSRF_TTL = 24 * 3600
MAX_QUERY = 8192
PAGE_HEADERS = {
    "Cache-Control": "no-store", "Pragma": "no-cache", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


class Answer(Exception):
    """A step ends early with this response (an error page, or the client's redirect URI); the
    experts app answers it as is."""

    def __init__(self, response: Response) -> None:
        super().__init__("page answer")
        self.response = response


# -- what the pages need from the process: the SMS sender, the code policy, the cookie key


def _cookie_key(container: Container) -> bytes:
    """The key signing the page's session cookie, derived from the process's social secret."""
    return hmac.new(container.credentials.social_jwt_secret.encode(), b"townhall experts authorize pages",
                    hashlib.sha256).digest()


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _base(request: Request) -> str:
    """Where the experts app is mounted (``/experts``)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


# -- HTML


_STYLE = """h1{font-size:1.4rem} form{margin:1rem 0} label{display:block;margin:.5rem 0 .25rem}
input[type=text],input[type=tel]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{padding:.5rem 1rem;font-size:1rem;margin:.5rem .5rem 0 0} .error{color:#a00} .muted{color:#666}"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, headers=PAGE_HEADERS, status=status, style=_STYLE)


def _error_html(message: str) -> str:
    return f'<p class="error" role="alert">{e(message)}</p>' if message else ""


def _hidden(csrf: str, query: str, **fields: str) -> str:
    values = {"csrf": csrf, "authorize": query, **fields}
    return "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in values.items())


def error_page(message: str, status: int = 400) -> HTMLResponse:
    return _page("Authorization failed", f"<h1>This authorization request cannot go on</h1>{_error_html(message)}"
                 '<p class="muted">Go back to the application and try again.</p>', status)


def signin_page(app: oauth.Application, csrf: str, query: str, *, error: str = "", phone: str = "",
                status: int = 200) -> HTMLResponse:
    body = f"""<h1>Sign in to authorize {e(app.name)}</h1>
{_error_html(error)}
<form method="post" action="signin/phone">{_hidden(csrf, query)}
<label for="phone">Your phone number (with its country code)</label>
<input type="tel" id="phone" name="phone" value="{e(phone)}" placeholder="+14155550100" autocomplete="tel" required>
<button type="submit">Text me a code</button></form>
<form method="post" action="signin/token">{_hidden(csrf, query)}
<label for="auth_token">or a townhall app session token</label>
<input type="text" id="auth_token" name="auth_token" autocomplete="off" required>
<button type="submit">Sign in with the token</button></form>"""
    return _page(f"Sign in to authorize {app.name}", body, status)


def code_page(app: oauth.Application, csrf: str, query: str, phone: str, *, error: str = "",
              status: int = 200) -> HTMLResponse:
    body = f"""<h1>Sign in to authorize {e(app.name)}</h1>
{_error_html(error)}
<p>We texted a code to {e(phone)}.</p>
<form method="post" action="signin/code">{_hidden(csrf, query, phone=phone)}
<label for="code">Code</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required autofocus>
<button type="submit">Sign in</button></form>
<form method="post" action="signin/phone">{_hidden(csrf, query, phone=phone)}
<button type="submit">Text me a new code</button></form>"""
    return _page(f"Sign in to authorize {app.name}", body, status)


def approve_page(request: oauth.AuthorizationRequest, member: str, csrf: str, query: str) -> HTMLResponse:
    app = request.application
    body = f"""<h1>Authorize {e(app.name)}?</h1>
<p><strong>{e(app.name)}</strong> wants to use your townhall experts account ({e(member)}): read your
profile and act for you on the experts API.</p>
<p class="muted">You will be sent back to {e(request.redirect_uri)}</p>
<form method="post" action="approve">{_hidden(csrf, query)}
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></form>
<form method="post" action="signout">{_hidden(csrf, query)}
<button type="submit" class="muted">Not you? Sign out</button></form>"""
    return _page(f"Authorize {app.name}", body)


# -- the authorization request, the member, the cookies


async def _authorization(request: Request, query: str) -> oauth.AuthorizationRequest:
    """The checked authorization request of ``query``; errors become an error page, or a
    redirect to the client when it may hear of them."""
    if len(query) > MAX_QUERY:
        raise Answer(error_page("The authorization request is too long."))
    pairs = parse_qsl(query, keep_blank_values=True)
    fields = dict(pairs)
    if len(fields) != len(pairs):  # RFC 6749 section 3.1: no parameter more than once
        raise Answer(error_page("A parameter is repeated in the authorization request."))
    try:
        async with container_of(request).read() as conn:
            return await oauth.access_authorization_request(conn, fields)
    except DomainError as exc:
        redirect_uri = exc.data.get("redirect_uri")
        if redirect_uri:
            raise Answer(redirect_to_client(redirect_uri, error=exc.code, error_description=exc.message,
                                            state=exc.data.get("state"))) from exc
        raise Answer(error_page(exc.message)) from exc


def redirect_to_client(redirect_uri: str, **values: str | None) -> Response:
    location = add_params_to_uri(redirect_uri, [(k, v) for k, v in values.items() if v is not None])
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


def _session_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "token" and value.strip() else None


async def _member_of_session_token(request: Request, token: str) -> int:
    """The member a social ``auth_token`` signs in, or an error."""
    async with container_of(request).read() as conn:
        info = await sessions.session_by_auth_token(conn, token) if len(token) <= 256 else None
        if info is None:
            raise Unauthenticated("invalid_token", "That session token is not valid (any more).")
        await oauth.check_member_may_authorize(conn, info.user_id)
    return info.user_id


async def _signed_in(request: Request) -> tuple[int | None, bool]:
    """(member, from the header): ``Authorization: Token`` first, then the page's cookie."""
    token = _session_token(request)
    if token is not None:
        try:
            return await _member_of_session_token(request, token), True
        except DomainError as exc:
            raise Answer(error_page(exc.message, 401 if isinstance(exc, Unauthenticated) else 403)) from exc
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None, False
    try:
        claims = jwt.decode(cookie, _cookie_key(container_of(request)), algorithms=["HS256"],
                            audience=SESSION_AUDIENCE, options={"require": ["exp", "sub"]})
        return int(claims["sub"]), False
    except (jwt.PyJWTError, ValueError):
        return None, False


def _remember(request: Request, response: Response, user_id: int) -> None:
    ttl = container_of(request).settings.experts.signin_session_ttl
    value = jwt.encode({"sub": str(user_id), "aud": SESSION_AUDIENCE, "exp": int(time.time()) + ttl},
                       _cookie_key(container_of(request)), algorithm="HS256")
    response.set_cookie(SESSION_COOKIE, value, max_age=ttl, path=f"{_base(request)}/oauth", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def _csrf_of(request: Request) -> tuple[str, bool]:
    """The CSRF token of this browser (new: True when it must be set)."""
    current = request.cookies.get(CSRF_COOKIE)
    if current and 20 <= len(current) <= 64:
        return current, False
    return secrets.token_urlsafe(24), True


def _with_csrf(request: Request, response: Response, csrf: str, new: bool) -> Response:
    if new:
        response.set_cookie(CSRF_COOKIE, csrf, max_age=CSRF_TTL, path=f"{_base(request)}/oauth", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
    return response


def _check_csrf(request: Request, data: dict[str, Any]) -> str:
    cookie, given = request.cookies.get(CSRF_COOKIE) or "", data.get("csrf")
    if not cookie or not isinstance(given, str) or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise Answer(error_page("This form has expired or did not come from this page. Start again from "
                                "the application.", 403))
    return cookie


async def _form(request: Request) -> tuple[dict[str, Any], str, str, oauth.AuthorizationRequest]:
    """A step's form: (fields, csrf token, authorization query, the request checked again)."""
    data = await params(request)
    csrf = _check_csrf(request, data)
    query = data.get("authorize")
    if not isinstance(query, str):
        raise Answer(error_page("The authorization request is missing."))
    return data, csrf, query, await _authorization(request, query)


def _back_to_authorize(request: Request, query: str) -> RedirectResponse:
    return RedirectResponse(f"{_base(request)}/oauth/authorize?{query}", status_code=303,
                            headers={"Cache-Control": "no-store"})


async def _member_label(request: Request, user_id: int) -> str:
    async with container_of(request).read() as conn:
        found = await profiles.get_profiles(conn, [user_id])
    profile = found.get(user_id)
    if profile is not None and profile.username:
        return f"@{profile.username}"
    if profile is not None and profile.name:
        return profile.name
    return f"member {user_id}"


# -- the steps


@router.get("/authorize", response_class=HTMLResponse)
async def authorize(request: Request, client_id: str | None = None, response_type: str | None = None,
                    redirect_uri: str | None = None, state: str | None = None, scope: str | None = None,
                    code_challenge: str | None = None, code_challenge_method: str | None = None) -> Response:
    """Start an authorization (``response_type=code``): the member signs in if needed and
    approves or denies; the browser then goes to the redirect URI with ``code`` and ``state``.
    ``Authorization: Token <social auth_token>`` signs the member in at once."""
    query = request.url.query
    checked = await _authorization(request, query)
    user_id, by_header = await _signed_in(request)
    csrf, new = _csrf_of(request)
    if user_id is None:
        return _with_csrf(request, signin_page(checked.application, csrf, query), csrf, new)
    response = approve_page(checked, await _member_label(request, user_id), csrf, query)
    if by_header:
        _remember(request, response, user_id)
    return _with_csrf(request, response, csrf, new)


@router.post("/signin/phone", include_in_schema=False)
async def signin_phone(request: Request) -> Response:
    """Text a sign-in code to the number, then ask for it."""
    data, csrf, query, checked = await _form(request)
    app, raw_phone = checked.application, data.get("phone")
    shown = raw_phone if isinstance(raw_phone, str) else ""
    container = container_of(request)
    try:
        async with container.uow() as uow:
            issued = await signin.do_request_code(uow, raw_phone, _client_address(request),
                                                  code_policy(container))
    except (Invalid, RateLimited) as exc:
        return signin_page(app, csrf, query, error=exc.message, phone=shown,
                           status=429 if isinstance(exc, RateLimited) else 400)
    if issued.code is None:
        return signin_page(app, csrf, query, error="This account is blocked.", phone=shown, status=403)
    phone = signin.normalize_phone(raw_phone)
    try:
        await request.app.state.sms.send(phone, f"Your townhall verification code is {issued.code}")
    except SmsError as exc:
        return signin_page(app, csrf, query, error=str(exc), phone=shown, status=502)
    return code_page(app, csrf, query, phone)


@router.post("/signin/code", include_in_schema=False)
async def signin_code(request: Request) -> Response:
    """Check the texted code; the number's account (opened on first sign-in) is signed in."""
    data, csrf, query, checked = await _form(request)
    app, raw_phone, container = checked.application, data.get("phone"), container_of(request)
    shown = raw_phone if isinstance(raw_phone, str) else ""
    social = container.settings.social
    try:
        async with container.uow() as uow:
            check = await signin.do_check_code(uow, raw_phone, data.get("code"), _client_address(request),
                                               code_policy(container))
    except (Invalid, RateLimited) as exc:
        return code_page(app, csrf, query, shown, error=exc.message,
                         status=429 if isinstance(exc, RateLimited) else 400)
    if not check.verified:
        return code_page(app, csrf, query, shown, error=check.message or signin.WRONG_CODE, status=400)
    try:
        async with container.uow() as uow:
            account = await invites.do_open_account(uow, signin.normalize_phone(raw_phone),
                                                    waitlist=social.signup_policy == "waitlist",
                                                    invites_per_user=social.invites_per_user)
        async with container.read() as conn:
            await oauth.check_member_may_authorize(conn, account.user_id)
    except (Forbidden, Unauthenticated) as exc:
        return error_page(exc.message, 403)
    response = _back_to_authorize(request, query)
    _remember(request, response, account.user_id)
    return response


@router.post("/signin/token", include_in_schema=False)
async def signin_token(request: Request) -> Response:
    """Sign in with a social session token (``auth_token``) pasted into the form."""
    data, csrf, query, checked = await _form(request)
    token = data.get("auth_token")
    try:
        if not isinstance(token, str) or not token.strip():
            raise Invalid("missing_token", "Paste a session token.")
        user_id = await _member_of_session_token(request, token.strip())
    except DomainError as exc:
        return signin_page(checked.application, csrf, query, error=exc.message, status=400)
    response = _back_to_authorize(request, query)
    _remember(request, response, user_id)
    return response


@router.post("/approve", include_in_schema=False)
async def approve(request: Request) -> Response:
    """The member's decision: a code for the application, or ``error=access_denied``."""
    data, csrf, query, checked = await _form(request)
    user_id, _ = await _signed_in(request)
    if user_id is None:
        return signin_page(checked.application, csrf, query, status=401,
                           error="Your sign-in has expired. Please sign in again.")
    decision = data.get("decision")
    if decision == "deny":
        return redirect_to_client(checked.redirect_uri, error="access_denied",
                                  error_description="The member denied the request.", state=checked.state)
    if decision != "approve":
        return error_page("Choose Approve or Deny.")
    container = container_of(request)
    try:
        async with container.uow() as uow:
            code = await oauth.do_issue_code(uow, checked, user_id,
                                             ttl=container.settings.experts.authorization_code_ttl)
    except DomainError as exc:
        return error_page(exc.message, 403)
    return redirect_to_client(checked.redirect_uri, code=code, state=checked.state)


@router.post("/signout", include_in_schema=False)
async def signout(request: Request) -> Response:
    """Forget the member signed in on this browser; back to the sign-in step."""
    _, _, query, _ = await _form(request)
    response = _back_to_authorize(request, query)
    response.delete_cookie(SESSION_COOKIE, path=f"{_base(request)}/oauth", httponly=True, samesite="lax")
    return response

