"""REST hooks: subscribe, list, get, unsubscribe, resume, and each subscription's delivery log.

Deliveries are POSTs of ``{"event", "job_id", "entities": {"<type>": [...]}}`` signed with the
subscription's secret (see ``townhall.jobs.worker``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from townhall.api.forum import render
from townhall.api.forum.http import OK, Caller, Id, Paging, container_of, create_once, respond, respond_list, unit
from townhall.core.forum import hooks
from townhall.core.forum.events import WEBHOOK_EVENTS
from townhall.core.uow import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


class SubscribeBody(BaseModel):
    target_url: str
    events: list[str] = Field(description=f"any of: {', '.join(WEBHOOK_EVENTS)}")


@router.get("/webhooks/events")
async def webhook_events(api: Caller) -> Response:
    return respond([{"event": e} for e in WEBHOOK_EVENTS], has_more=False)


@router.post("/webhooks")
async def subscribe(request: Request, api: Caller, body: SubscribeBody) -> Response:
    forum = container_of(request).settings.forum
    await hooks.check_target(api, body.target_url, allow_private=forum.allow_private_webhook_targets,
                             timeout=forum.webhook_timeout)

    async def build(uow: UnitOfWork) -> dict[str, Any]:
        sub = await hooks.do_subscribe(uow, api, body.target_url, body.events)
        return render.subscription(sub, with_secret=True)

    return await create_once(request, api, build)


@router.get("/webhooks")
async def list_subscriptions(request: Request, api: Caller, page: Paging) -> Response:
    async with container_of(request).read() as conn:
        found, more = await hooks.list_subscriptions(conn, api, page)
    return respond_list(found, more, render.subscription)


@router.get("/webhooks/{subscription_id}")
async def get_subscription(request: Request, api: Caller, subscription_id: Id) -> Response:
    async with container_of(request).read() as conn:
        sub, pending = await hooks.access_subscription(conn, api, subscription_id)
    return respond({**render.subscription(sub), "pending": pending})


@router.delete("/webhooks/{subscription_id}")
async def unsubscribe(request: Request, api: Caller, subscription_id: Id) -> Response:
    async with unit(request) as uow:
        await hooks.do_unsubscribe(uow, api, subscription_id)
    return respond(OK)


@router.post("/webhooks/{subscription_id}/resume")
async def resume(request: Request, api: Caller, subscription_id: Id) -> Response:
    async with unit(request) as uow:
        sub = await hooks.do_resume(uow, api, subscription_id)
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()
    return respond(render.subscription(sub))


@router.get("/webhooks/{subscription_id}/deliveries")
async def deliveries(request: Request, api: Caller, subscription_id: Id, page: Paging) -> Response:
    async with container_of(request).read() as conn:
        found, more = await hooks.list_deliveries(conn, api, subscription_id, page)
    return respond_list(found, more, render.delivery)
