"""A member's OAuth client applications (what Clarity offered at /applications): register, list,
read, regenerate the secret, delete. The ``client_secret`` is in the answer only when it is made.
And the applications the member authorized (``/authorizations``): list them, withdraw one.

Only the member themselves does this (``first_party_member``: their townhall session token, or an
oauth_token townhall issued with no application); an application's token gets 403
``insufficient_scope``, so an app a member authorized cannot manage their apps or grants."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from townhall.api.experts.errors import NO_STORE
from townhall.api.experts.http import clarity_time, container_of, first_party_member, json_response, params
from townhall.core.experts import oauth

router = APIRouter(tags=["applications"])

FIRST_PARTY_DOC = ("Only for the member themselves: `Authorization: Token <auth_token>` (their townhall app "
                   "session) or an oauth_token townhall issued with no application; an application's token "
                   "gets 403 `insufficient_scope`.")
MAX_GRANTS_PAGE = 100


def application_json(app: oauth.Application, client_secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"client_id": app.client_id, "name": app.name, "redirect_uri": app.redirect_uri,
                            "created_at": clarity_time(app.created_at),
                            "secret_updated_at": clarity_time(app.secret_updated_at)}
    if client_secret is not None:
        body["client_secret"] = client_secret
    return body


def _with_secret(credentials: oauth.Credentials, status: int = 200) -> Response:
    return json_response(application_json(credentials.application, credentials.client_secret), status,
                         headers=NO_STORE)


@router.post("/applications", status_code=201,
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}, "example": {
                 "name": "My app", "redirect_uri": "https://app.example/auth/clarity/callback"}}}}})
async def register_application(request: Request, data: dict[str, Any] = Depends(params),
                               member: int = Depends(first_party_member)) -> Response:
    """Register an application (``name``, ``redirect_uri``): its ``client_id`` and, this once,
    its ``client_secret``."""
    container = container_of(request)
    async with container.uow() as uow:
        made = await oauth.do_register_application(
            uow, name=data.get("name"), redirect_uri=data.get("redirect_uri"), owner_id=member,
            max_per_owner=container.settings.experts.max_applications_per_member)
    return _with_secret(made, 201)


@router.get("/applications")
async def list_applications(request: Request, member: int = Depends(first_party_member)) -> Response:
    """The caller's applications, oldest first (a member has at most
    ``max_applications_per_member``, so one page)."""
    async with container_of(request).read() as conn:
        found = await oauth.list_applications(conn, owner_id=member)
    return json_response({"applications": [application_json(app) for app in found], "total": len(found)})


@router.get("/applications/{client_id}")
async def get_application(request: Request, client_id: str, member: int = Depends(first_party_member)) -> Response:
    """One of the caller's applications."""
    async with container_of(request).read() as conn:
        app = await oauth.access_application(conn, client_id, owner_id=member)
    return json_response(application_json(app))


@router.post("/applications/{client_id}/secret")
async def regenerate_secret(request: Request, client_id: str, member: int = Depends(first_party_member)) -> Response:
    """A new ``client_secret``: the old one, pending codes and the tokens issued to the
    application stop working."""
    async with container_of(request).uow() as uow:
        made = await oauth.do_regenerate_secret(uow, client_id, owner_id=member)
    return _with_secret(made)


@router.delete("/applications/{client_id}", status_code=204)
async def delete_application(request: Request, client_id: str, member: int = Depends(first_party_member)) -> Response:
    """Delete the application; its tokens are revoked."""
    async with container_of(request).uow() as uow:
        await oauth.do_delete_application(uow, client_id, owner_id=member)
    return Response(status_code=204)


def grant_json(grant: oauth.Grant) -> dict[str, Any]:
    return {"client_id": grant.client_id, "name": grant.name, "scope": grant.scope,
            "created_at": clarity_time(grant.first_granted_at), "updated_at": clarity_time(grant.last_granted_at)}


@router.get("/authorizations", tags=["authorizations"], description=FIRST_PARTY_DOC)
async def list_authorizations(request: Request, member: int = Depends(first_party_member),
                              limit: int = Query(50, ge=1, le=MAX_GRANTS_PAGE), offset: int = Query(0, ge=0)
                              ) -> Response:
    """The applications the caller authorized that still hold a live token, most recently
    authorized first (``limit``/``offset`` paged): ``client_id``, ``name``, ``scope``, ``created_at``
    (first authorized), ``updated_at`` (last authorized)."""
    async with container_of(request).read() as conn:
        found = await oauth.list_grants(conn, member, limit=limit, offset=offset)
    return json_response({"authorizations": [grant_json(grant) for grant in found]})


@router.delete("/authorizations/{client_id}", status_code=204, tags=["authorizations"], description=FIRST_PARTY_DOC)
async def revoke_authorization(request: Request, client_id: str, member: int = Depends(first_party_member)
                               ) -> Response:
    """Withdraw an application's access: its tokens for the caller and its unredeemed codes stop
    working (404 when it holds none)."""
    async with container_of(request).uow() as uow:
        await oauth.do_revoke_grant(uow, member, client_id)
    return Response(status_code=204)
