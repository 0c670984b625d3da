"""The OAuth2 provider of the experts surface: client applications, the authorization code grant
(RFC 6749 section 4.1, as Clarity's draft-10 subset uses it) and PKCE (RFC 7636).

Secrets, codes and tokens are random and only their SHA-256 is stored. The errors raised carry the
RFC 6749 error codes (``invalid_client``, ``invalid_grant``, ...); an error the client must get at
its redirect URI also carries ``redirect_uri`` (and ``state``) in its data. PKCE challenges are
computed and compared with Authlib's RFC 7636 helpers; the grant's storage is ours (async).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN, CODE_VERIFIER_PATTERN
from sqlalchemy import and_, delete, func, insert, or_, select, update

from townhall.core.accounts.profiles import check_admitted_status
from townhall.core.accounts.sessions import hash_token
from townhall.core.accounts.tables import profiles, users
from townhall.core.clock import now
from townhall.core.errors import DomainError, Forbidden, Invalid, NotFound, Unauthenticated
from townhall.core.experts import tokens
from townhall.core.experts.oauth_tables import oauth_applications, oauth_codes, oauth_tokens
from townhall.core.fields import check_text, check_title
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection

MAX_NAME = 100
MAX_REDIRECT_URI = 2048
MAX_STATE = 2048
MAX_SCOPE = 255
PKCE_METHODS = tuple(CodeChallenge.SUPPORTED_CODE_CHALLENGE_METHOD)  # ("plain", "S256")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # NQCHAR (RFC 6749 appendix A.4)
_CLIENT_ID = re.compile(r"[0-9a-f]{32}")  # what do_register_application makes
NO_APPLICATION = "No such application."
NO_GRANT = "This application holds no authorization of yours."


@dataclass(frozen=True, slots=True)
class Application:
    id: int
    client_id: str
    name: str
    redirect_uri: str
    owner_id: int | None  # None: registered by the operator
    created_at: datetime
    secret_updated_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    """An application with its client_secret: seen only when it is created or regenerated."""

    application: Application
    client_secret: str


def _application(row: Any) -> Application:
    return Application(id=row.id, client_id=row.client_id, name=row.name, redirect_uri=row.redirect_uri,
                       owner_id=row.owner_id, created_at=row.created_at, secret_updated_at=row.secret_updated_at)


# -- applications


def check_name(value: Any) -> str:
    name = check_title(value, code="invalid_name", what="An application", max_length=MAX_NAME)
    return check_text(name, code="invalid_name", name="name", allow="")


def is_client_id(value: Any) -> bool:
    """True when ``value`` has the form of a client_id (anything else is nobody's, unqueried)."""
    return isinstance(value, str) and _CLIENT_ID.fullmatch(value) is not None


def check_redirect_uri(value: Any) -> str:
    """An absolute http(s) URI with a host and no fragment (RFC 6749 section 3.1.2)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("invalid_redirect_uri", "redirect_uri is required.", field="redirect_uri")
    uri = value.strip()
    problem = None
    if len(uri) > MAX_REDIRECT_URI:
        problem = f"is at most {MAX_REDIRECT_URI} characters"
    elif any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        problem = "must not contain spaces or control characters"
    else:
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018  (raises on a malformed port)
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            problem = "must be an absolute http or https URI"
        elif "#" in uri:
            problem = "must not have a fragment"
    if problem:
        raise Invalid("invalid_redirect_uri", f"redirect_uri {problem}.", field="redirect_uri")
    return uri


def _new_secret() -> tuple[str, str]:
    secret = secrets.token_urlsafe(32)
    return secret, hash_token(secret)


async def do_register_application(uow: UnitOfWork, *, name: Any, redirect_uri: Any, owner_id: int | None = None,
                                  max_per_owner: int = 0) -> Credentials:
    """A new application (of member ``owner_id``, or of the operator when None) with its secret.
    A member has at most ``max_per_owner`` applications (0: no limit), also when registering
    concurrently."""
    clean_name, uri = check_name(name), check_redirect_uri(redirect_uri)
    if owner_id is not None and max_per_owner:
        # the member's row locked first (PostgreSQL), so concurrent registrations count one at a time
        await uow.conn.execute(select(users.c.id).where(users.c.id == owner_id).with_for_update())
        count = (await uow.conn.execute(select(func.count()).select_from(oauth_applications).where(
            oauth_applications.c.owner_id == owner_id))).scalar_one()
        if count >= max_per_owner:
            raise Invalid("too_many_applications", f"A member can register at most {max_per_owner} applications.")
    secret, secret_hash = _new_secret()
    stamp = now()
    row = (await uow.conn.execute(insert(oauth_applications).values(
        client_id=secrets.token_hex(16), secret_hash=secret_hash, name=clean_name, redirect_uri=uri,
        owner_id=owner_id, created_at=stamp, secret_updated_at=stamp,
    ).returning(*oauth_applications.c))).one()
    return Credentials(_application(row), secret)


async def list_applications(conn: Connection, *, owner_id: int | None) -> list[Application]:
    """The member's applications (oldest first); every application for the operator (None)."""
    query = select(oauth_applications).order_by(oauth_applications.c.id)
    if owner_id is not None:
        query = query.where(oauth_applications.c.owner_id == owner_id)
    return [_application(row) for row in await conn.execute(query)]


async def access_application(conn: Connection, client_id: Any, *, owner_id: int | None) -> Application:
    """The application ``client_id`` if ``owner_id`` manages it (None: the operator, who manages
    all); NotFound otherwise, so a member cannot tell others' applications from missing ones."""
    if not is_client_id(client_id):
        raise NotFound("application_not_found", NO_APPLICATION)
    query = select(oauth_applications).where(oauth_applications.c.client_id == client_id)
    if owner_id is not None:
        query = query.where(oauth_applications.c.owner_id == owner_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("application_not_found", NO_APPLICATION)
    return _application(row)


async def do_regenerate_secret(uow: UnitOfWork, client_id: Any, *, owner_id: int | None) -> Credentials:
    """A new secret; the old one, the codes not yet redeemed and every token of the application
    stop working."""
    app = await access_application(uow.conn, client_id, owner_id=owner_id)
    secret, secret_hash = _new_secret()
    stamp = now()
    await uow.conn.execute(update(oauth_applications).where(oauth_applications.c.id == app.id).values(
        secret_hash=secret_hash, secret_updated_at=stamp))
    await uow.conn.execute(delete(oauth_codes).where(oauth_codes.c.client_id == app.client_id))
    await tokens.do_revoke_for_client(uow, app.client_id)
    return Credentials(replace(app, secret_updated_at=stamp), secret)


async def do_delete_application(uow: UnitOfWork, client_id: Any, *, owner_id: int | None) -> Application:
    """Remove the application: its codes go with it and its tokens are revoked."""
    app = await access_application(uow.conn, client_id, owner_id=owner_id)
    await uow.conn.execute(delete(oauth_codes).where(oauth_codes.c.client_id == app.client_id))
    await uow.conn.execute(delete(oauth_applications).where(oauth_applications.c.id == app.id))
    await tokens.do_revoke_for_client(uow, app.client_id)
    return app


async def authenticate_client(conn: Connection, client_id: Any, client_secret: Any) -> Application:
    """The application whose credentials these are (secret compared in constant time), or
    ``Unauthenticated("invalid_client")``."""
    if not isinstance(client_id, str) or not client_id:
        raise Unauthenticated("invalid_client", "client_id is required.")
    if not isinstance(client_secret, str) or not client_secret:
        raise Unauthenticated("invalid_client", "client_secret is required.")
    row = None
    if is_client_id(client_id):
        row = (await conn.execute(select(oauth_applications).where(
            oauth_applications.c.client_id == client_id))).first()
    given = hash_token(client_secret[:256])
    if row is None or not hmac.compare_digest(given, row.secret_hash):
        raise Unauthenticated("invalid_client", "Unknown client or wrong client_secret.")
    return _application(row)


# -- the member's grants: the applications they authorized


@dataclass(frozen=True, slots=True)
class Grant:
    """An application holding live tokens for a member."""

    client_id: str
    name: str
    scope: str  # of its latest token
    first_granted_at: datetime
    last_granted_at: datetime


def _live_tokens_of(user_id: int, at: datetime) -> Any:
    t = oauth_tokens.c
    return and_(t.user_id == user_id, t.client_id.is_not(None), t.revoked_at.is_(None),
                or_(t.expires_at.is_(None), t.expires_at > at))


async def list_grants(conn: Connection, user_id: int, *, limit: int, offset: int) -> list[Grant]:
    """The applications holding live tokens for ``user_id``, most recently authorized first."""
    t, a = oauth_tokens.c, oauth_applications.c
    rows = await conn.execute(
        select(t.client_id, a.name, func.min(t.created_at).label("first"), func.max(t.created_at).label("last"),
               func.max(t.id).label("latest"))
        .select_from(oauth_tokens.join(oauth_applications, a.client_id == t.client_id))
        .where(_live_tokens_of(user_id, now())).group_by(t.client_id, a.name)
        .order_by(func.max(t.id).desc()).limit(limit).offset(offset))
    found = rows.all()
    scopes = dict((await conn.execute(select(t.id, t.scope).where(t.id.in_([r.latest for r in found])))).all())
    return [Grant(client_id=r.client_id, name=r.name, scope=scopes.get(r.latest, ""), first_granted_at=r.first,
                  last_granted_at=r.last) for r in found]


async def do_revoke_grant(uow: UnitOfWork, user_id: int, client_id: Any) -> None:
    """The member withdraws an application's access: its tokens for them and its codes not yet
    redeemed stop working. NotFound when the application holds nothing of theirs."""
    if not is_client_id(client_id):
        raise NotFound("authorization_not_found", NO_GRANT)
    codes = await uow.conn.execute(delete(oauth_codes).where(oauth_codes.c.user_id == user_id,
                                                             oauth_codes.c.client_id == client_id,
                                                             oauth_codes.c.used_at.is_(None),
                                                             oauth_codes.c.expires_at > now()))
    revoked = await tokens.do_revoke_grant(uow, user_id, client_id)
    if not revoked and not codes.rowcount:
        raise NotFound("authorization_not_found", NO_GRANT)


# -- authorization requests


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked authorization request: where its answer goes and what the code will be bound to."""

    application: Application
    redirect_uri: str  # where to send the code: the registered URI
    redirect_uri_given: bool  # the request named it (the token request must then repeat it)
    state: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid("invalid_request", f"{name} must be a string.")
    return value


def check_scope(value: Any) -> str:
    """Space separated NQCHAR words, normalized (this provider grants no finer rights than the
    member's own; the scope is kept and echoed)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise Invalid("invalid_scope", "scope must be a string.")
    words = value.split()
    scope = " ".join(words)
    if len(scope) > MAX_SCOPE or not all(_SCOPE_TOKEN.match(word) for word in words):
        raise Invalid("invalid_scope", "scope is malformed.")
    return scope


async def access_authorization_request(conn: Connection, params: Mapping[str, Any]) -> AuthorizationRequest:
    """Check an authorization request (``client_id``, ``response_type``, ``redirect_uri``, ``state``,
    ``scope``, ``code_challenge``, ``code_challenge_method``).

    An unknown client or a redirect URI other than the registered one is refused without a
    redirect URI in the error (the user must be told, not sent anywhere); other errors carry
    ``redirect_uri`` and ``state`` so the client hears of them (RFC 6749 section 4.1.2.1).
    """
    client_id, given_uri = _text(params, "client_id"), _text(params, "redirect_uri")
    if client_id is None:
        raise Invalid("invalid_request", "client_id is required.")
    try:
        app = await access_application(conn, client_id, owner_id=None)
    except NotFound as exc:
        raise Invalid("invalid_client", "There is no application with this client_id.") from exc
    if given_uri is not None and given_uri != app.redirect_uri:
        raise Invalid("invalid_request", "redirect_uri is not the one registered for this application.")
    raw_state = params.get("state")
    state = raw_state if isinstance(raw_state, str) and raw_state else None
    too_long = state is not None and len(state) > MAX_STATE
    back = {"redirect_uri": app.redirect_uri, "state": None if too_long else state}

    def refuse(code: str, message: str) -> DomainError:
        return Invalid(code, message, **back)

    try:
        response_type = _text(params, "response_type")
        if too_long:
            raise Invalid("invalid_request", f"state is at most {MAX_STATE} characters.")
        scope = check_scope(params.get("scope"))
        challenge, method = _text(params, "code_challenge"), _text(params, "code_challenge_method")
    except Invalid as exc:
        raise refuse(exc.code, exc.message) from exc
    if response_type is None:
        raise refuse("invalid_request", "response_type is required.")
    if response_type != "code":
        raise refuse("unsupported_response_type", "Only response_type=code is supported.")
    if method is not None and challenge is None:
        raise refuse("invalid_request", "code_challenge is required with code_challenge_method.")
    if challenge is not None:
        method = method or CodeChallenge.DEFAULT_CODE_CHALLENGE_METHOD
        if not CODE_CHALLENGE_PATTERN.match(challenge):
            raise refuse("invalid_request", "code_challenge is malformed.")
        if method not in PKCE_METHODS:
            raise refuse("invalid_request", "code_challenge_method must be S256 or plain.")
    return AuthorizationRequest(application=app, redirect_uri=app.redirect_uri,
                                redirect_uri_given=given_uri is not None, state=state, scope=scope,
                                code_challenge=challenge, code_challenge_method=method if challenge else None)


async def check_member_may_authorize(conn: Connection, user_id: int) -> None:
    """Only an active account that is let in may let an application act for it (a waitlisted one
    is refused with the social surface's own rule, ``profiles.check_admitted_status``)."""
    row = (await conn.execute(
        select(users.c.banned, users.c.deleted_at, users.c.deactivated_at, profiles.c.waitlisted)
        .select_from(users.outerjoin(profiles, profiles.c.user_id == users.c.id)).where(users.c.id == user_id)
    )).first()
    if row is None or row.deleted_at is not None or row.deactivated_at is not None:
        raise Unauthenticated("unknown_member", "This account no longer exists.")
    if row.banned:
        raise Forbidden("banned", "This account is blocked.")
    if row.waitlisted:
        check_admitted_status(True)


async def do_issue_code(uow: UnitOfWork, request: AuthorizationRequest, user_id: int, *, ttl: int) -> str:
    """A single-use code for the member's approval of ``request``, valid ``ttl`` seconds."""
    await check_member_may_authorize(uow.conn, user_id)
    code = secrets.token_urlsafe(32)
    stamp = now()
    await uow.conn.execute(delete(oauth_codes).where(oauth_codes.c.expires_at < stamp))  # indexed; few rows
    await uow.conn.execute(insert(oauth_codes).values(
        code_hash=hash_token(code), client_id=request.application.client_id, user_id=user_id,
        redirect_uri=request.redirect_uri if request.redirect_uri_given else None, scope=request.scope,
        code_challenge=request.code_challenge, code_challenge_method=request.code_challenge_method,
        created_at=stamp, expires_at=stamp + timedelta(seconds=ttl)))
    return code


# -- the token request


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request's parameters, whatever the wire form (RFC 6749 form or Clarity's query)."""

    client_id: Any
    client_secret: Any
    grant_type: Any
    code: Any
    redirect_uri: Any = None
    code_verifier: Any = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """What a token request gave: a token, or ``refused`` (to raise once the unit of work is
    committed: a replayed code revokes the token issued with it, and that must stick)."""

    token: str | None = None
    expires_in: int | None = None
    scope: str = ""
    refused: DomainError | None = None


def check_grant_type(value: Any) -> None:
    if value is None or value == "":
        raise Invalid("invalid_request", "grant_type is required.")
    if value != "authorization_code":
        raise Invalid("unsupported_grant_type", "Only grant_type=authorization_code is supported.")


def _check_code_verifier(row: Any, verifier: Any) -> None:
    """PKCE (RFC 7636 section 4.6, and RFC 9700: no verifier without a challenge)."""
    if verifier is not None and verifier != "" and not isinstance(verifier, str):
        raise Invalid("invalid_request", "code_verifier must be a string.")
    if row.code_challenge is None:
        if verifier:
            raise Invalid("invalid_request", "The authorization request had no code_challenge.")
        return
    if not verifier:
        raise Invalid("invalid_request", "code_verifier is required.")
    if not CODE_VERIFIER_PATTERN.match(verifier):
        raise Invalid("invalid_request", "code_verifier is malformed.")
    compare = CodeChallenge.CODE_CHALLENGE_METHODS[row.code_challenge_method]
    if not compare(verifier, row.code_challenge):
        raise Invalid("invalid_grant", "The code_verifier does not match the code_challenge.")


async def do_exchange_code(uow: UnitOfWork, request: TokenRequest, *, ttl: int) -> Exchange:
    """Redeem an authorization code for an oauth_token valid ``ttl`` seconds (0: until revoked).
    The client must authenticate; the code must be its own, unexpired, unused, and match the
    redirect URI and PKCE challenge of its request. A code presented twice revokes what it gave."""
    check_grant_type(request.grant_type)
    client = await authenticate_client(uow.conn, request.client_id, request.client_secret)
    code = request.code
    if not isinstance(code, str) or not code:
        raise Invalid("invalid_request", "code is required.")
    if request.redirect_uri is not None and not isinstance(request.redirect_uri, str):
        raise Invalid("invalid_request", "redirect_uri must be a string.")
    invalid = Invalid("invalid_grant", "The code is invalid, expired or already used.")
    row = (await uow.conn.execute(select(oauth_codes).where(
        oauth_codes.c.code_hash == hash_token(code[:256])))).first()
    if row is None or row.client_id != client.client_id:
        raise invalid
    if row.used_at is not None:
        return await _replayed(uow, row.id, invalid)
    if row.expires_at <= now():
        raise invalid
    given_uri = request.redirect_uri or None
    if row.redirect_uri is not None and given_uri != row.redirect_uri:
        raise Invalid("invalid_grant", "redirect_uri must be the one of the authorization request.")
    if row.redirect_uri is None and given_uri is not None and given_uri != client.redirect_uri:
        raise Invalid("invalid_grant", "redirect_uri is not the one registered for this application.")
    _check_code_verifier(row, request.code_verifier)
    claimed = (await uow.conn.execute(update(oauth_codes).where(
        oauth_codes.c.id == row.id, oauth_codes.c.used_at.is_(None)).values(used_at=now())
        .returning(oauth_codes.c.id))).first()
    if claimed is None:  # redeemed meanwhile by a concurrent request
        return await _replayed(uow, row.id, invalid)
    await check_member_may_authorize(uow.conn, row.user_id)
    token, token_id = await tokens.issue_with_id(uow, row.user_id, client_id=client.client_id, scope=row.scope,
                                                 ttl=ttl)
    await uow.conn.execute(update(oauth_codes).where(oauth_codes.c.id == row.id).values(token_id=token_id))
    return Exchange(token=token, expires_in=ttl or None, scope=row.scope)


async def _replayed(uow: UnitOfWork, code_id: int, error: DomainError) -> Exchange:
    token_id = (await uow.conn.execute(select(oauth_codes.c.token_id).where(
        oauth_codes.c.id == code_id))).scalar_one_or_none()
    if token_id is not None:
        await tokens.do_revoke(uow, token_id)
    return Exchange(refused=error)


async def do_revoke_token(uow: UnitOfWork, client_id: Any, client_secret: Any, token: Any) -> None:
    """RFC 7009: an authenticated client gives up one of its tokens. A token that is unknown,
    already revoked or another client's is answered the same way (nothing is revealed)."""
    client = await authenticate_client(uow.conn, client_id, client_secret)
    if not isinstance(token, str) or not token:
        raise Invalid("invalid_request", "token is required.")
    await tokens.do_revoke_issued_to(uow, token, client.client_id)
