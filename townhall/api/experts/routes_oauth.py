"""The token endpoints of the OAuth2 provider (the authorization pages are in oauth_pages.py).

- ``POST /oauth/authorize``: Clarity's own form (draft 10): ``client_id``, ``client_secret``, ``code``,
  ``grant_type=authorization_code`` in the query string, a form or a JSON body.
- ``POST /oauth/token``: RFC 6749 section 4.1.3, the client authenticating with HTTP Basic or
  ``client_secret_post``, PKCE's ``code_verifier`` (RFC 7636).
- ``POST /oauth/revoke``: RFC 7009 token revocation, the client authenticating the same ways.

Both answer ``{"access_token", "oauth_token", "token_type": "Bearer"[, "expires_in", "scope"]}``
(``oauth_token`` is the name Clarity documents, ``access_token`` the one OAuth clients parse),
never cached; errors are RFC 6749 section 5.2's.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from townhall.api.experts.errors import NO_STORE, ExpertsError
from townhall.api.experts.http import container_of, json_response, params
from townhall.core.experts import oauth

router = APIRouter(tags=["oauth"])

TOKEN_EXAMPLE = {"grant_type": "authorization_code", "code": "<code>", "client_id": "<client_id>",
                 "client_secret": "<client_secret>", "redirect_uri": "https://app.example/callback",
                 "code_verifier": "<PKCE verifier, when the authorization request had a code_challenge>"}


def client_credentials(request: Request, data: dict[str, Any]) -> tuple[Any, Any]:
    """(client_id, client_secret) from HTTP Basic or the parameters; one method only (RFC 6749
    section 2.3)."""
    try:
        basic_id, basic_secret = extract_basic_authorization(request.headers)
    except (UnicodeDecodeError, ValueError) as exc:  # credentials that are not UTF-8 text
        raise ExpertsError(401, "invalid_client", "The HTTP Basic credentials are malformed.") from exc
    if basic_id is None:
        return data.get("client_id"), data.get("client_secret")
    if data.get("client_secret"):
        raise ExpertsError(400, "invalid_request", "Authenticate the client with HTTP Basic or client_secret, "
                                                   "not both.")
    if data.get("client_id") not in (None, "", basic_id):
        raise ExpertsError(400, "invalid_request", "client_id differs from the HTTP Basic user.")
    return basic_id, basic_secret


def token_response(exchange: oauth.Exchange) -> Response:
    body: dict[str, Any] = {"access_token": exchange.token, "oauth_token": exchange.token, "token_type": "Bearer"}
    if exchange.expires_in:
        body["expires_in"] = exchange.expires_in
    if exchange.scope:
        body["scope"] = exchange.scope
    return json_response(body, headers=NO_STORE)


async def _exchange(request: Request, data: dict[str, Any]) -> Response:
    client_id, client_secret = client_credentials(request, data)
    container = container_of(request)
    token_request = oauth.TokenRequest(
        client_id=client_id, client_secret=client_secret, grant_type=data.get("grant_type"), code=data.get("code"),
        redirect_uri=data.get("redirect_uri"), code_verifier=data.get("code_verifier"))
    async with container.uow() as uow:
        exchange = await oauth.do_exchange_code(uow, token_request, ttl=container.settings.experts.access_token_ttl)
    if exchange.refused is not None:
        raise exchange.refused
    return token_response(exchange)


_BODY_DOC = {"requestBody": {"content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object"}, "example": TOKEN_EXAMPLE},
    "application/json": {"schema": {"type": "object"}, "example": TOKEN_EXAMPLE}}}}


@router.post("/authorize", openapi_extra=_BODY_DOC)
async def redeem_code(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """Clarity's token request: exchange an authorization code for an ``oauth_token``."""
    return await _exchange(request, data)


@router.post("/token", openapi_extra=_BODY_DOC)
async def token(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """RFC 6749 token endpoint (authorization_code grant, PKCE, HTTP Basic or client_secret_post)."""
    return await _exchange(request, data)


@router.post("/revoke", openapi_extra={"requestBody": {"content": {"application/x-www-form-urlencoded": {
    "schema": {"type": "object"}, "example": {"token": "<oauth_token>", "token_type_hint": "access_token"}}}}})
async def revoke(request: Request, data: dict[str, Any] = Depends(params)) -> Response:
    """RFC 7009: the client revokes one of its tokens; 200 whether or not the token was live."""
    client_id, client_secret = client_credentials(request, data)
    async with container_of(request).uow() as uow:
        await oauth.do_revoke_token(uow, client_id, client_secret, data.get("token"))
    return Response(status_code=200, headers=NO_STORE)
