"""The forum's REST hook subscriptions: admins manage them; the events are the forum's."""

from __future__ import annotations

from typing import Any

from townhall.core.forum.events import SURFACE, WEBHOOK_EVENTS
from townhall.core.forum.models import ApiUser, Page, split_page
from townhall.core.forum.users import check_admin
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.jobs import webhooks
from townhall.jobs.webhooks import Delivery, Subscription

__all__ = ["SURFACE", "access_subscription", "check_target", "do_resume", "do_subscribe", "do_unsubscribe",
           "list_deliveries", "list_subscriptions"]


async def check_target(api: ApiUser, target_url: Any, *, allow_private: bool, timeout: float) -> None:
    """Before subscribing (outside the unit of work: it resolves the host): an admin's, valid,
    public target (``townhall.jobs.webhooks``: no loopback, private... addresses unless
    ``allow_private``)."""
    check_admin(api, "manage webhooks")
    await webhooks.check_reachable_target(webhooks.check_target_url(target_url), allow_private=allow_private,
                                          timeout=timeout)


async def do_subscribe(uow: UnitOfWork, api: ApiUser, target_url: Any, events: Any) -> Subscription:
    check_admin(api, "manage webhooks")
    target = webhooks.check_target_url(target_url)
    wanted = webhooks.check_events(events, WEBHOOK_EVENTS)
    return await webhooks.do_subscribe(uow, SURFACE, target, wanted, created_by=api.system)


async def access_subscription(conn: Connection, api: ApiUser, subscription_id: int) -> tuple[Subscription, int]:
    """A subscription and how many of its events wait for delivery."""
    check_admin(api, "manage webhooks")
    sub = await webhooks.access_subscription(conn, SURFACE, subscription_id)
    return sub, await webhooks.pending_count(conn, subscription_id)


async def list_subscriptions(conn: Connection, api: ApiUser, page: Page) -> tuple[list[Subscription], bool]:
    check_admin(api, "manage webhooks")
    found = await webhooks.list_subscriptions(conn, SURFACE, limit=page.size + 1, offset=page.offset)
    return split_page(found, page)


async def do_unsubscribe(uow: UnitOfWork, api: ApiUser, subscription_id: int) -> None:
    check_admin(api, "manage webhooks")
    await webhooks.do_unsubscribe(uow, SURFACE, subscription_id)


async def do_resume(uow: UnitOfWork, api: ApiUser, subscription_id: int) -> Subscription:
    check_admin(api, "manage webhooks")
    return await webhooks.do_resume(uow, SURFACE, subscription_id)


async def list_deliveries(conn: Connection, api: ApiUser, subscription_id: int, page: Page) -> tuple[
        list[Delivery], bool]:
    check_admin(api, "manage webhooks")
    found = await webhooks.list_deliveries(conn, SURFACE, subscription_id, limit=page.size + 1, offset=page.offset)
    return split_page(found, page)
