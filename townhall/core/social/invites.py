"""Growth: uploaded contacts, invites to the app by phone, the waitlist and letting people in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update

from townhall.core.accounts import signin
from townhall.core.accounts.profiles import check_admitted
from townhall.core.accounts.signin import PHONE, try_normalize_phone, user_of_phone
from townhall.core.accounts.tables import identities, profiles, users
from townhall.core.clock import now
from townhall.core.errors import Forbidden, Invalid, NotFound
from townhall.core.social import notifications
from townhall.core.social.tables import app_invites, contacts
from townhall.core.social.tables import notifications as notification_rows
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

MAX_CONTACTS = 5000


def parse_contacts(entries: Sequence[Any]) -> dict[str, str | None]:
    """Address book entries (``{"phone_number", "name"}``) by E.164 number; unusable ones skipped."""
    if len(entries) > MAX_CONTACTS:
        raise Invalid("too_many_contacts", f"At most {MAX_CONTACTS} contacts at once.")
    kept: dict[str, str | None] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        phone = try_normalize_phone(entry.get("phone_number"))
        name = entry.get("name")
        if phone is not None:
            kept[phone] = name[:255] if isinstance(name, str) else None
    return kept


async def do_upload_contacts(uow: UnitOfWork, owner: int, entries: Sequence[Any]) -> int:
    """Keep the owner's address book entries; returns how many were usable. An owner keeps at
    most ``MAX_CONTACTS`` in all: an upload that would go beyond is refused as a whole."""
    kept = parse_contacts(entries)
    rows = [{"owner_id": owner, "phone": phone, "name": name} for phone, name in kept.items()]
    for i in range(0, len(rows), 1000):
        await uow.conn.execute(insert_ignoring_conflicts(uow.conn, contacts).values(rows[i:i + 1000]))
    if rows:
        total = (await uow.conn.execute(select(func.count()).select_from(contacts).where(
            contacts.c.owner_id == owner))).scalar_one()
        if total > MAX_CONTACTS:  # the unit of work rolls this upload back
            raise Invalid("too_many_contacts", f"You can keep at most {MAX_CONTACTS} contacts.")
    return len(kept)


async def do_open_account(uow: UnitOfWork, phone: str, *, waitlist: bool, invites_per_user: int) -> signin.Account:
    """Sign-in as the social domain sees it: the number's account (``signin.do_open_account``),
    skipping the waitlist when someone invited the number, and a new account announced to the
    people who know it."""
    inviter = await first_inviter(uow.conn, phone)
    account = await signin.do_open_account(uow, phone, waitlist=waitlist, invites_per_user=invites_per_user,
                                           invited_by=inviter)
    if account.created:
        await do_announce_newcomer(uow, account.user_id, phone, inviter=inviter, waitlisted=account.waitlisted)
    return account


async def first_inviter(conn: Connection, phone: str) -> int | None:
    return (await conn.execute(select(app_invites.c.inviter_id).where(app_invites.c.phone == phone)
                               .order_by(app_invites.c.id).limit(1))).scalar_one_or_none()


async def do_announce_newcomer(uow: UnitOfWork, user_id: int, phone: str, *, inviter: int | None,
                               waitlisted: bool) -> None:
    """Tell the people who know a new account's number: its inviter and whoever has it in their
    contacts (an actionable "let them in" when it waits on the waitlist)."""
    if inviter is not None:
        await notifications.do_notify(uow, user_id=inviter, kind=notifications.JOINED_APP, actor_id=user_id,
                                      message="joined from your invite")
    owners = (await uow.conn.execute(select(contacts.c.owner_id).join(profiles, profiles.c.user_id == contacts.c.owner_id)
                                     .where(contacts.c.phone == phone, profiles.c.waitlisted.is_(False))
                                     .limit(50))).scalars()
    for owner in owners:
        if owner == inviter:
            continue
        if waitlisted:
            await notifications.do_notify(uow, user_id=owner, kind=notifications.WAITLISTED_FRIEND,
                                          actor_id=user_id, message="is on the waitlist")
        else:
            await notifications.do_notify(uow, user_id=owner, kind=notifications.JOINED_APP, actor_id=user_id,
                                          message="joined")


async def _spend_invite(uow: UnitOfWork, me: int) -> None:
    """Take one of my invites in one statement (no read-then-write race between requests)."""
    spent = (await uow.conn.execute(update(profiles).where(
        profiles.c.user_id == me, profiles.c.num_invites > 0).values(
        num_invites=profiles.c.num_invites - 1).returning(profiles.c.num_invites))).first()
    if spent is None:
        raise Invalid("no_invites", "You don't have any invites left.")


async def _knows(conn: Connection, me: int, user_id: int) -> bool:
    """Whether I was told that ``user_id`` waits (an open "let them in" notification) or have
    their number in my uploaded contacts."""
    told = (await conn.execute(select(notification_rows.c.id).where(
        notification_rows.c.user_id == me, notification_rows.c.kind == notifications.WAITLISTED_FRIEND,
        notification_rows.c.actor_id == user_id, notification_rows.c.ignored_at.is_(None)).limit(1))).first()
    if told is not None:
        return True
    in_book = (await conn.execute(select(contacts.c.phone).join(identities, and_(
        identities.c.value == contacts.c.phone, identities.c.kind == PHONE)).where(
        contacts.c.owner_id == me, identities.c.user_id == user_id).limit(1))).first()
    return in_book is not None


async def do_admit(uow: UnitOfWork, user_id: int, *, invited_by: int | None, invites_per_user: int) -> bool:
    """Let a waitlisted account in. False when it was not waitlisted."""
    result = await uow.conn.execute(update(profiles).where(
        profiles.c.user_id == user_id, profiles.c.waitlisted.is_(True)).values(
        waitlisted=False, num_invites=invites_per_user,
        invited_by=func.coalesce(profiles.c.invited_by, invited_by)))
    if result.rowcount == 0:
        return False
    if invited_by is not None:
        await notifications.do_notify(uow, user_id=user_id, kind=notifications.JOINED_APP, actor_id=invited_by,
                                      message="let you in")
        await notifications.do_resolve_actionable(uow, invited_by, kind=notifications.WAITLISTED_FRIEND,
                                                  actor_id=user_id)
    return True


async def do_invite_from_waitlist(uow: UnitOfWork, me: int, user_id: int, invites_per_user: int) -> None:
    """Spend one of my invites to let in someone waiting whom I know (see ``_knows``)."""
    await check_admitted(uow.conn, me)
    row = (await uow.conn.execute(select(profiles.c.waitlisted).join(users, users.c.id == profiles.c.user_id).where(
        profiles.c.user_id == user_id, users.c.deleted_at.is_(None)))).first()
    if row is None:
        raise NotFound("user_not_found", "That user does not exist.")
    if not row.waitlisted:
        raise Invalid("not_waitlisted", "That person is not on the waitlist.")
    if not await _knows(uow.conn, me, user_id):
        raise Forbidden("not_linked", "You can only let in people you know.")
    await _spend_invite(uow, me)
    if not await do_admit(uow, user_id, invited_by=me, invites_per_user=invites_per_user):
        raise Invalid("not_waitlisted", "That person is not on the waitlist.")  # let in a moment ago


async def do_invite_to_app(uow: UnitOfWork, me: int, raw_phone: Any, *, name: Any = None, message: Any = None,
                           invites_per_user: int) -> None:
    """Spend one of my invites on a number: its first sign-in skips the waitlist (or, when it is
    already waiting there, it is let in now). Inviting the same number twice costs one invite."""
    await check_admitted(uow.conn, me)
    phone = try_normalize_phone(raw_phone)
    if phone is None:
        raise Invalid("invalid_phone_number", "Please enter a valid phone number.")
    existing = await user_of_phone(uow.conn, phone)
    if existing == me:
        raise Invalid("invite_self", "You can't invite yourself.")
    if existing is not None:
        waiting = (await uow.conn.execute(select(profiles.c.waitlisted).where(
            profiles.c.user_id == existing))).scalar_one_or_none()
        if not waiting:
            raise Invalid("already_member", "That person is already here. Follow them instead!")
    already = (await uow.conn.execute(select(app_invites.c.id).where(
        app_invites.c.inviter_id == me, app_invites.c.phone == phone))).first()
    if already is None:
        inserted = (await uow.conn.execute(insert_ignoring_conflicts(uow.conn, app_invites).values(
            inviter_id=me, phone=phone, name=name[:255] if isinstance(name, str) else None,
            message=message[:1000] if isinstance(message, str) else None, created_at=now(),
        ).returning(app_invites.c.id))).first()
        if inserted is not None:  # only a new invite costs one (no_invites rolls it back)
            await _spend_invite(uow, me)
    if existing is not None:
        await do_admit(uow, existing, invited_by=me, invites_per_user=invites_per_user)


@dataclass(frozen=True, slots=True)
class SuggestedInvite:
    phone_number: str
    name: str | None
    in_app: bool
    is_invited: bool
    num_friends: int


async def suggested_invites(conn: Connection, owner: int, given: Mapping[str, str | None] | None = None,
                            limit: int = 200) -> list[SuggestedInvite]:
    """The owner's contacts (kept, plus ``given`` ones not kept) who are not here yet, those most
    people here know first."""
    others = contacts.alias("others")
    in_app = select(identities.c.user_id).join(profiles, profiles.c.user_id == identities.c.user_id).where(
        identities.c.kind == PHONE, identities.c.value == contacts.c.phone, profiles.c.waitlisted.is_(False)).exists()
    invited = select(app_invites.c.id).where(app_invites.c.phone == contacts.c.phone).exists()
    friends = select(func.count()).select_from(others).where(
        others.c.phone == contacts.c.phone, others.c.owner_id != owner).scalar_subquery()
    given = dict(given or {})
    rows = await conn.execute(select(contacts.c.phone, contacts.c.name, invited.label("invited"),
                                     friends.label("friends")).where(contacts.c.owner_id == owner, ~in_app)
                              .order_by(invited, friends.desc(), func.coalesce(contacts.c.name, ""), contacts.c.phone)
                              .limit(limit))
    out = [SuggestedInvite(r.phone, r.name or given.get(r.phone), False, bool(r.invited), int(r.friends or 0))
           for r in rows]
    kept = set((await conn.execute(select(contacts.c.phone).where(contacts.c.owner_id == owner)))
               .scalars()) if given else set()
    extra = [phone for phone in given if phone not in kept]  # at most MAX_CONTACTS (parse_contacts)
    for i in range(0, len(extra), 500):  # bounded parameter lists (PostgreSQL allows 32767)
        chunk = extra[i:i + 500]
        here = set((await conn.execute(select(identities.c.value).join(
            profiles, profiles.c.user_id == identities.c.user_id).where(
            identities.c.kind == PHONE, identities.c.value.in_(chunk), profiles.c.waitlisted.is_(False)))).scalars())
        asked = set((await conn.execute(select(app_invites.c.phone).where(app_invites.c.phone.in_(chunk)))).scalars())
        known = dict((await conn.execute(select(contacts.c.phone, func.count()).where(
            contacts.c.phone.in_(chunk), contacts.c.owner_id != owner).group_by(contacts.c.phone))).all())
        out += [SuggestedInvite(phone, given[phone], False, phone in asked, int(known.get(phone, 0)))
                for phone in chunk if phone not in here]
    out.sort(key=lambda s: (s.is_invited, -s.num_friends, s.name or "", s.phone_number))
    return out[:limit]
