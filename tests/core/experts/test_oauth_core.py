"""The OAuth2 provider's rules in the core: applications, authorization requests, codes and their
exchange (single use under concurrency, PKCE, binding), who may authorize."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import secrets
from typing import Any

import pytest
from sqlalchemy import select, update

from townhall.container import Container
from townhall.core.accounts import signin
from townhall.core.accounts.tables import profiles, users
from townhall.core.errors import DomainError, Forbidden, Invalid, NotFound, Unauthenticated
from townhall.core.experts import oauth, tokens
from townhall.core.experts.oauth_tables import oauth_applications, oauth_codes

REDIRECT_URI = "http://localhost:3000/auth/clarity/callback?from=townhall"


async def new_member(container: Container) -> int:
    async with container.uow() as uow:
        account = await signin.do_open_account(uow, f"+1415{random.randint(2_000_000, 9_999_999)}", waitlist=False,
                                               invites_per_user=0)
    return account.user_id


async def new_app(container: Container, owner_id: int | None = None) -> oauth.Credentials:
    async with container.uow() as uow:
        return await oauth.do_register_application(uow, name="Core app", redirect_uri=REDIRECT_URI, owner_id=owner_id)


async def issue_code(container: Container, app: oauth.Credentials, user_id: int, **params: str) -> str:
    async with container.read() as conn:
        request = await oauth.access_authorization_request(
            conn, {"client_id": app.application.client_id, "response_type": "code", **params})
    async with container.uow() as uow:
        return await oauth.do_issue_code(uow, request, user_id, ttl=600)


async def exchange(container: Container, app: oauth.Credentials, code: str, ttl: int = 0,
                   **extra: Any) -> oauth.Exchange:
    request = oauth.TokenRequest(client_id=app.application.client_id, client_secret=app.client_secret,
                                 grant_type="authorization_code", code=code, **extra)
    async with container.uow() as uow:
        return await oauth.do_exchange_code(uow, request, ttl=ttl)


@pytest.mark.parametrize("uri", ["https://app.example/cb", "http://localhost:3000/cb", "https://a.example:8443/x?y=1",
                                 " https://app.example/padded "])
def test_absolute_http_redirect_uris_are_accepted(uri: str) -> None:
    assert oauth.check_redirect_uri(uri) == uri.strip()


async def test_a_code_redeemed_twice_at_once_gives_one_token_and_that_token_is_revoked(container: Container) -> None:
    app, member = await new_app(container), await new_member(container)
    code = await issue_code(container, app, member)
    results = await asyncio.gather(exchange(container, app, code), exchange(container, app, code))
    issued = [r for r in results if r.token is not None]
    refused = [r for r in results if r.refused is not None]
    assert len(issued) == 1 and len(refused) == 1 and refused[0].refused.code == "invalid_grant"
    async with container.read() as conn:
        assert await tokens.resolve(conn, issued[0].token) is None


async def test_a_token_lives_as_long_as_configured(container: Container) -> None:
    app, member = await new_app(container), await new_member(container)
    forever = await exchange(container, app, await issue_code(container, app, member, scope="read  write"))
    assert forever.expires_in is None and forever.scope == "read write"
    timed = await exchange(container, app, await issue_code(container, app, member), ttl=60)
    assert timed.expires_in == 60
    async with container.read() as conn:
        info = await tokens.resolve(conn, timed.token)
    assert info is not None and info.expires_at is not None and info.client_id == app.application.client_id


async def test_codes_and_secrets_are_stored_only_as_hashes(container: Container) -> None:
    app, member = await new_app(container), await new_member(container)
    code = await issue_code(container, app, member)
    async with container.read() as conn:
        stored = (await conn.execute(select(oauth_codes.c.code_hash).where(
            oauth_codes.c.client_id == app.application.client_id))).scalars().all()
    assert stored == [hashlib.sha256(code.encode()).hexdigest()]
    async with container.read() as conn:
        secret_hash = (await conn.execute(select(oauth_applications.c.secret_hash).where(
            oauth_applications.c.client_id == app.application.client_id))).scalar_one()
    assert secret_hash == hashlib.sha256(app.client_secret.encode()).hexdigest()


async def test_the_plain_pkce_method_is_accepted_and_a_verifier_without_challenge_is_not(
        container: Container) -> None:
    app, member = await new_app(container), await new_member(container)
    verifier = secrets.token_urlsafe(48)
    plain = await issue_code(container, app, member, code_challenge=verifier)  # method defaults to plain
    assert (await exchange(container, app, plain, code_verifier=verifier)).token
    s256 = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    hashed = await issue_code(container, app, member, code_challenge=s256, code_challenge_method="S256")
    with pytest.raises(Invalid) as short:
        await exchange(container, app, hashed, code_verifier="too-short")
    assert short.value.code == "invalid_request"
    assert (await exchange(container, app, hashed, code_verifier=verifier)).token
    without = await issue_code(container, app, member)
    with pytest.raises(Invalid) as unasked:
        await exchange(container, app, without, code_verifier=verifier)
    assert unasked.value.code == "invalid_request"


async def test_a_failed_exchange_leaves_the_code_redeemable(container: Container) -> None:
    app, member = await new_app(container), await new_member(container)
    code = await issue_code(container, app, member, redirect_uri=REDIRECT_URI)
    with pytest.raises(Invalid):
        await exchange(container, app, code, redirect_uri="http://localhost:3000/other")
    assert (await exchange(container, app, code, redirect_uri=REDIRECT_URI)).token


async def test_an_authorization_request_is_refused_where_the_client_cannot_be_trusted(container: Container) -> None:
    app = await new_app(container)
    async with container.read() as conn:
        with pytest.raises(Invalid) as unknown:
            await oauth.access_authorization_request(conn, {"client_id": "x" * 65, "response_type": "code"})
        assert unknown.value.code == "invalid_client" and "redirect_uri" not in unknown.value.data
        with pytest.raises(Invalid) as state:
            await oauth.access_authorization_request(conn, {"client_id": app.application.client_id,
                                                            "response_type": "code", "state": "s" * 3000})
        assert state.value.data["redirect_uri"] == REDIRECT_URI
        with pytest.raises(Invalid) as typed:
            await oauth.access_authorization_request(conn, {"client_id": ["a"], "response_type": "code"})
        assert typed.value.code == "invalid_request"


async def test_expired_codes_are_forgotten_when_new_ones_are_issued(container: Container) -> None:
    app, member = await new_app(container), await new_member(container)
    old = await issue_code(container, app, member)
    async with container.uow() as uow:
        await uow.conn.execute(update(oauth_codes).where(oauth_codes.c.code_hash == hashlib.sha256(
            old.encode()).hexdigest()).values(expires_at=oauth_codes.c.created_at))
    await issue_code(container, app, member)
    async with container.read() as conn:
        left = (await conn.execute(select(oauth_codes.c.code_hash).where(
            oauth_codes.c.client_id == app.application.client_id))).scalars().all()
    assert hashlib.sha256(old.encode()).hexdigest() not in left and len(left) == 1


async def test_a_member_has_a_limited_number_of_applications(container: Container) -> None:
    member = await new_member(container)
    async with container.uow() as uow:
        await oauth.do_register_application(uow, name="One", redirect_uri=REDIRECT_URI, owner_id=member,
                                            max_per_owner=1)
    with pytest.raises(Invalid) as refused:
        async with container.uow() as uow:
            await oauth.do_register_application(uow, name="Two", redirect_uri=REDIRECT_URI, owner_id=member,
                                                max_per_owner=1)
    assert refused.value.code == "too_many_applications"


async def test_concurrent_registrations_never_exceed_the_limit(container: Container) -> None:
    member = await new_member(container)

    async def register(n: int) -> bool:
        try:
            async with container.uow() as uow:
                await oauth.do_register_application(uow, name=f"App {n}", redirect_uri=REDIRECT_URI, owner_id=member,
                                                    max_per_owner=2)
        except Invalid:
            return False
        return True

    made = await asyncio.gather(*[register(n) for n in range(6)])
    assert sum(made) == 2
    async with container.read() as conn:
        assert len(await oauth.list_applications(conn, owner_id=member)) == 2


async def test_banned_waitlisted_and_deleted_members_cannot_authorize(container: Container) -> None:
    app = await new_app(container)
    banned, waiting, deleted = [await new_member(container) for _ in range(3)]
    code = await issue_code(container, app, banned)
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == banned).values(banned=True))
        await uow.conn.execute(update(profiles).where(profiles.c.user_id == waiting).values(waitlisted=True))
        await uow.conn.execute(update(users).where(users.c.id == deleted).values(deleted_at=users.c.created_at))
    with pytest.raises(Forbidden):
        await exchange(container, app, code)
    for user_id, error in ((banned, Forbidden), (waiting, Forbidden), (deleted, Unauthenticated)):
        with pytest.raises(error):
            await issue_code(container, app, user_id)


async def test_the_tokens_of_a_banned_member_stop_working(container: Container) -> None:
    member = await new_member(container)
    async with container.uow() as uow:
        token = await tokens.issue(uow, member)
    async with container.read() as conn:
        assert (await tokens.resolve(conn, token)).user_id == member
    async with container.uow() as uow:
        await uow.conn.execute(update(users).where(users.c.id == member).values(banned=True))
    async with container.read() as conn:
        assert await tokens.resolve(conn, token) is None


async def test_the_operator_manages_every_application_and_members_only_theirs(container: Container) -> None:
    owner, other = await new_member(container), await new_member(container)
    app = await new_app(container, owner_id=owner)
    async with container.read() as conn:
        assert (await oauth.access_application(conn, app.application.client_id, owner_id=None)).owner_id == owner
        with pytest.raises(NotFound):
            await oauth.access_application(conn, app.application.client_id, owner_id=other)
        assert app.application.client_id in [a.client_id for a in await oauth.list_applications(conn, owner_id=None)]
    async with container.uow() as uow:
        await oauth.do_delete_application(uow, app.application.client_id, owner_id=None)
    with pytest.raises(DomainError):
        async with container.read() as conn:
            await oauth.authenticate_client(conn, app.application.client_id, app.client_secret)
