"""Expert calls: requests, their walk through the statuses as the parties really join and leave the
call's media room, cancellation, expiry, billing; and needs (a call request waiting for an expert).

The state machine (one place, every transition here):

    pending --connect (the expert)--> dialing_seeker          the seeker is dialled
    dialing_seeker --the seeker joins--> seeker_answered      then the expert is dialled:
    seeker_answered --dial--> dialing_expert
    seeker_answered | dialing_expert --the expert joins (the seeker in)--> expert_answered
    expert_answered --either hangs up (a voluntary leave)--> call_completed      duration, billing record
    expert_answered --either drops out and is not back within reconnect_grace--> call_completed
                                                              as of the drop (the periodic job)
    dialing_* | seeker_answered --dial_timeout without the dialled party--> seeker_ or expert_unavailable
    pending | dialing_* | seeker_answered --a party cancels--> canceled (canceled_by)
    pending --past expires_at--> canceled (canceled_by null: nobody canceled it, it expired)

Presence (``seeker_present``, ``expert_present``) follows the media server's joins and leaves in any
order: an expert who joins before the seeker answered waits in the room, and the call is answered
as soon as both are in. A party of an answered call who drops out (a leave the media server does not
know to be on purpose: Janus never does) may rejoin within ``reconnect_grace`` seconds and the call
goes on; its ``duration`` counts only the time both were in the room. Media work (rooms, credentials)
is never done here: ``actions`` does it around these units of work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import RowMapping

from townhall.core.calls import events as ev
from townhall.core.calls.models import (
    CANCELED,
    COMPLETED,
    DIALING_EXPERT,
    DIALING_SEEKER,
    EXPERT,
    EXPERT_ANSWERED,
    EXPERT_UNAVAILABLE,
    LIVE,
    PENDING,
    SEEKER,
    SEEKER_ANSWERED,
    SEEKER_UNAVAILABLE,
    BillingRecord,
    Call,
    Need,
)
from townhall.core.calls.tables import call_billing_records, expert_calls, expert_needs
from townhall.core.clock import now
from townhall.core.communities.tables import community_members
from townhall.core.errors import Conflict, Forbidden, Invalid, NotFound
from townhall.core.events import user_topic
from townhall.core.experts.members import access_member
from townhall.core.experts.tables import expert_profiles
from townhall.core.fields import check_positive_id, check_text, is_digits
from townhall.core.social.graph import is_blocked_between
from townhall.core.uow import UnitOfWork
from townhall.db.database import Connection
from townhall.db.sql import insert_ignoring_conflicts

MAX_REASON = 140
MAX_NEED = 1000
DEFAULT_EXPIRES_IN = 72  # hours
MAX_EXPIRES_IN = 720  # hours (30 days)
MAX_IDEMPOTENCY_KEY = 255
MAX_PAGE = 100

# The lists of GET /calls/<which>.
REQUESTED, CALLBACK, COMPLETED_LIST, CANCELED_LIST = "requested", "callback", "completed", "canceled"

_NOT_FOUND = "No such call."
_WHY_NOT_PENDING = {
    CANCELED: "This call was canceled.",
    COMPLETED: "This call is over.",
    SEEKER_UNAVAILABLE: "This call ended: the seeker did not answer.",
    EXPERT_UNAVAILABLE: "This call ended: the expert did not answer.",
}


# -- field checks


def check_reason(value: Any, *, what: str = "reason") -> str:
    """The reason of a call: required, one line, at most 140 characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("invalid_reason", f"{what} is required.", field="reason")
    reason = " ".join(value.split())
    if len(reason) > MAX_REASON:
        raise Invalid("invalid_reason", f"{what} is at most {MAX_REASON} characters.", field="reason")
    return check_text(reason, code="invalid_reason", name="reason", allow="")


def check_expires_in(value: Any) -> int:
    """Hours until a request expires: 1..720, 72 when not given."""
    if value is None or value == "":
        return DEFAULT_EXPIRES_IN
    if isinstance(value, str) and is_digits(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRES_IN:
        raise Invalid("invalid_expires_in", f"expires_in is a number of hours from 1 to {MAX_EXPIRES_IN}.",
                      field="expires_in")
    return value


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_IDEMPOTENCY_KEY or not value.isprintable():
        raise Invalid("invalid_idempotency_key", f"Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} printable "
                                                 f"characters.")
    return value


def check_description(value: Any) -> str:
    """The description of a need: required, at most 1000 characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("invalid_description", "description is required.", field="description")
    text = value.strip()
    if len(text) > MAX_NEED:
        raise Invalid("invalid_description", f"description is at most {MAX_NEED} characters.", field="description")
    return check_text(text, code="invalid_description", name="description")


def check_flag(value: Any, name: str, *, default: bool = False) -> bool:
    """A boolean as JSON or a form sends it (true/false, 1/0)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise Invalid(f"invalid_{name}", f"{name} must be true or false.", field=name)


def check_page(limit: Any, offset: Any) -> tuple[int, int]:
    try:
        limit_n, offset_n = int(limit), int(offset)
    except (TypeError, ValueError) as exc:
        raise Invalid("invalid_page", "limit and offset must be integers.") from exc
    if not 1 <= limit_n <= MAX_PAGE or offset_n < 0:
        raise Invalid("invalid_page", f"limit is 1 to {MAX_PAGE}, offset 0 or more.")
    return limit_n, offset_n


# -- reads


def _call(row: RowMapping) -> Call:
    return Call(
        id=row["id"], seeker_id=row["seeker_id"], expert_id=row["expert_id"], reason=row["reason"],
        hourly_rate_cents=row["hourly_rate_cents"], status=row["status"], canceled_by=row["canceled_by"],
        duration=row["duration"], expires_at=row["expires_at"], connected_at=row["connected_at"],
        created_at=row["created_at"], updated_at=row["updated_at"], dialed_at=row["dialed_at"],
        answered_at=row["answered_at"], ended_at=row["ended_at"], seeker_present=bool(row["seeker_present"]),
        expert_present=bool(row["expert_present"]), seeker_left_at=row["seeker_left_at"],
        expert_left_at=row["expert_left_at"], together_since=row["together_since"],
        together_ms=row["together_ms"] or 0,
    )


def _need(row: RowMapping) -> Need:
    return Need(id=row["id"], requester_id=row["requester_id"], description=row["description"], paid=row["paid"],
                fulfilled_by=row["fulfilled_by"], call_id=row["call_id"], fulfilled_at=row["fulfilled_at"],
                created_at=row["created_at"])


async def get_call(conn: Connection, call_id: int, *, lock: bool = False) -> Call | None:
    stmt = select(expert_calls).where(expert_calls.c.id == call_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    return _call(row) if row else None


async def access_call(conn: Connection, user_id: int, call_id: Any, *, lock: bool = False) -> Call:
    """The call, for one of its two parties; anyone else is told it does not exist."""
    call = await get_call(conn, check_positive_id(call_id, "id"), lock=lock)
    if call is None or call.role_of(user_id) is None:
        raise NotFound("call_not_found", _NOT_FOUND)
    return call


async def list_calls(conn: Connection, user_id: int, which: str, *, limit: int, offset: int,
                     at: datetime | None = None) -> list[Call]:
    """requested (pending, I am the seeker), callback (pending, I am the expert), completed and
    canceled (either side; calls that ended unanswered, seeker_ or expert_unavailable, are
    canceled ones with their own status); newest first. Pending requests past their expiry are
    left out."""
    c = expert_calls.c
    at = at or now()
    either = or_(c.seeker_id == user_id, c.expert_id == user_id)
    where = {
        REQUESTED: and_(c.seeker_id == user_id, c.status == PENDING, c.expires_at > at),
        CALLBACK: and_(c.expert_id == user_id, c.status == PENDING, c.expires_at > at),
        COMPLETED_LIST: and_(either, c.status == COMPLETED),
        CANCELED_LIST: and_(either, c.status.in_((CANCELED, SEEKER_UNAVAILABLE, EXPERT_UNAVAILABLE))),
    }[which]
    rows = await conn.execute(select(expert_calls).where(where).order_by(c.id.desc()).limit(limit).offset(offset))
    return [_call(r) for r in rows.mappings()]


async def live_calls(conn: Connection, *, limit: int) -> list[Call]:
    """Calls whose media room exists (dialing or answered), oldest first."""
    c = expert_calls.c
    rows = await conn.execute(select(expert_calls).where(c.status.in_(LIVE)).order_by(c.id).limit(limit))
    return [_call(r) for r in rows.mappings()]


async def hourly_rate_cents(conn: Connection, user_id: int) -> int:
    """A member's current rate (0 until they set one)."""
    rate = (await conn.execute(select(expert_profiles.c.hourly_rate_cents).where(
        expert_profiles.c.user_id == user_id))).scalar()
    return int(rate or 0)


async def billing_record(conn: Connection, call_id: int) -> BillingRecord | None:
    row = (await conn.execute(select(call_billing_records).where(
        call_billing_records.c.call_id == call_id))).mappings().first()
    if row is None:
        return None
    return BillingRecord(call_id=row["call_id"], payer_id=row["payer_id"], payee_id=row["payee_id"],
                         hourly_rate_cents=row["hourly_rate_cents"], billed_seconds=row["billed_seconds"],
                         billed_minutes=row["billed_minutes"], amount_cents=row["amount_cents"],
                         created_at=row["created_at"])


def charge(hourly_rate_cents: int, seconds: int) -> tuple[int, int]:
    """(billed minutes, amount in cents) of a call: seconds rounded UP to whole minutes, at the hourly
    rate, to the nearest cent (halves up). A free call (rate 0) costs 0."""
    minutes = math.ceil(max(seconds, 0) / 60)
    return minutes, (hourly_rate_cents * minutes * 2 + 60) // 120


# -- events


def _status_events(uow: UnitOfWork, call: Call) -> None:
    for user_id in (call.seeker_id, call.expert_id):
        uow.emit(ev.CallStatusChanged(topic=user_topic(user_id), call_id=call.id, status=call.status,
                                      seeker_id=call.seeker_id, expert_id=call.expert_id, user_id=user_id))


def _dial_event(uow: UnitOfWork, call: Call, role: str, connection_url: str) -> None:
    user_id = call.seeker_id if role == SEEKER else call.expert_id
    uow.emit(ev.CallDialed(topic=user_topic(user_id), call_id=call.id, status=call.status, seeker_id=call.seeker_id,
                           expert_id=call.expert_id, user_id=user_id, role=role, room=call.room,
                           connection_url=connection_url))


async def _set(uow: UnitOfWork, call: Call, at: datetime, **values: Any) -> Call:
    """Write ``values`` on the call; a change of status is announced to both parties."""
    await uow.conn.execute(update(expert_calls).where(expert_calls.c.id == call.id).values(updated_at=at, **values))
    changed = await get_call(uow.conn, call.id)
    assert changed is not None
    if changed.status != call.status:
        _status_events(uow, changed)
    return changed


# -- requests


async def _check_other_party(conn: Connection, me: int, other_id: int, what: str) -> None:
    """``me`` may deal with ``other_id`` (the other party of a call): a member ``me`` may see
    (``members.access_member``; NotFound otherwise, as for nobody) and no block between them."""
    try:
        await access_member(conn, other_id, viewer_id=me)
    except NotFound as exc:
        raise NotFound(f"{what}_not_found", f"No such {what}.") from exc
    if await is_blocked_between(conn, me, other_id):
        raise Forbidden("blocked", "You cannot have a call with this member.")


async def _insert_call(uow: UnitOfWork, seeker_id: int, expert_id: int, reason: str, rate_cents: int,
                       expires_in: int, idempotency_key: str | None, at: datetime, *, notify: int) -> Call | None:
    """The new call, announced to ``notify`` (the party who did not make it); None when the seeker's
    idempotency key is taken (a retry)."""
    new_id = (await uow.conn.execute(insert_ignoring_conflicts(uow.conn, expert_calls).values(
        seeker_id=seeker_id, expert_id=expert_id, reason=reason, hourly_rate_cents=rate_cents, status=PENDING,
        expires_at=at + timedelta(hours=expires_in), created_at=at, updated_at=at, idempotency_key=idempotency_key,
        seeker_present=False, expert_present=False,
    ).returning(expert_calls.c.id))).scalar()
    if new_id is None:
        return None
    call = await get_call(uow.conn, new_id)
    assert call is not None
    uow.emit(ev.CallRequested(topic=user_topic(notify), call_id=call.id, status=call.status, seeker_id=seeker_id,
                              expert_id=expert_id, user_id=notify, reason=reason))
    return call


async def _by_key(conn: Connection, seeker_id: int, key: str) -> Call | None:
    row = (await conn.execute(select(expert_calls).where(expert_calls.c.seeker_id == seeker_id,
                                                         expert_calls.c.idempotency_key == key))).mappings().first()
    return _call(row) if row else None


def _same_request(call: Call, expert_id: int, reason: str) -> Call:
    if call.expert_id != expert_id or call.reason != reason:
        raise Conflict("idempotency_key_reused", "This Idempotency-Key was already used for another call request.")
    return call


async def do_request_call(uow: UnitOfWork, seeker_id: int, expert_id: Any, reason: Any, expires_in: Any = None, *,
                          idempotency_key: str | None = None, at: datetime | None = None) -> Call:
    """A pending call request at the expert's current rate. The same ``idempotency_key`` again (a
    client's retry) answers the call the first request made."""
    at = at or now()
    expert = check_positive_id(expert_id, "expert_id")
    text = check_reason(reason)
    hours = check_expires_in(expires_in)
    key = check_idempotency_key(idempotency_key)
    if key is not None and (earlier := await _by_key(uow.conn, seeker_id, key)) is not None:
        return _same_request(earlier, expert, text)
    if expert == seeker_id:
        raise Invalid("cannot_call_yourself", "You cannot request a call with yourself.", field="expert_id")
    await _check_other_party(uow.conn, seeker_id, expert, "expert")
    rate = await hourly_rate_cents(uow.conn, expert)
    call = await _insert_call(uow, seeker_id, expert, text, rate, hours, key, at, notify=expert)
    if call is None:  # a concurrent retry with the same key got there first
        earlier = await _by_key(uow.conn, seeker_id, key or "")
        assert earlier is not None
        return _same_request(earlier, expert, text)
    return call


# -- connecting and the media room


def _check_pending(call: Call, at: datetime) -> None:
    if call.status == PENDING and call.expires_at <= at:
        raise Conflict("call_expired", "This call request has expired.")
    if call.status != PENDING:
        why = _WHY_NOT_PENDING.get(call.status, "This call is already connecting or in progress.")
        raise Conflict("call_not_pending", f"{why} Only a pending call can be connected.")


async def check_connect(conn: Connection, user_id: int, call_id: Any, *, at: datetime | None = None,
                        lock: bool = False) -> Call:
    """Only the expert connects, and only a pending call that has not expired."""
    call = await access_call(conn, user_id, call_id, lock=lock)
    if call.role_of(user_id) != EXPERT:
        raise Forbidden("not_the_expert", "Only the expert can connect a call.")
    _check_pending(call, at or now())
    await _check_other_party(conn, user_id, call.seeker_id, "seeker")
    return call


async def do_dial_seeker(uow: UnitOfWork, user_id: int, call_id: int, connection_url: str, *,
                         at: datetime | None = None) -> Call:
    """The expert connected: the call's media room exists, the seeker is dialled."""
    at = at or now()
    call = await check_connect(uow.conn, user_id, call_id, at=at, lock=True)
    call = await _set(uow, call, at, status=DIALING_SEEKER, connected_at=at, dialed_at=at)
    _dial_event(uow, call, SEEKER, connection_url)
    return call


async def do_dial_expert(uow: UnitOfWork, call_id: int, connection_url: str, *,
                         at: datetime | None = None) -> Call | None:
    """The seeker answered: the expert is dialled (unless they are in the room already)."""
    at = at or now()
    call = await get_call(uow.conn, call_id, lock=True)
    if call is None or call.status != SEEKER_ANSWERED:
        return call  # moved on meanwhile (answered, canceled): nothing to dial
    call = await _set(uow, call, at, status=DIALING_EXPERT, dialed_at=at)
    _dial_event(uow, call, EXPERT, connection_url)
    return call


@dataclass(frozen=True, slots=True)
class MediaOutcome:
    call: Call
    dial_expert: bool  # the seeker just answered: dial the expert now
    ended: bool  # the call just ended: destroy its media room


def grace_over(call: Call, reconnect_grace: float, at: datetime) -> datetime | None:
    """When an answered call ended because a party stayed away longer than ``reconnect_grace``
    seconds: the moment they left (None while nobody did, or the grace still runs)."""
    gone = call.first_left_at if call.status == EXPERT_ANSWERED else None
    if gone is None or gone > at - timedelta(seconds=reconnect_grace):
        return None
    return gone


def _together_ms(call: Call, at: datetime) -> int:
    """Milliseconds both parties were in the room, up to ``at``."""
    ms = call.together_ms
    if call.together_since is not None:
        ms += max(round((at - call.together_since) / timedelta(milliseconds=1)), 0)
    return ms


async def do_media_event(uow: UnitOfWork, kind: str, call_id: int, user_id: int, *, voluntary: bool = False,
                         reconnect_grace: float = 0, at: datetime | None = None) -> MediaOutcome | None:
    """A party joined or left the call's media room (see the module's state machine). Events about
    other users, unknown or finished calls, or repeated ones change nothing (None). A join that
    comes after the reconnect grace ran out finds the call completed as of the leave."""
    at = at or now()
    call = await get_call(uow.conn, call_id, lock=True)
    role = call.role_of(user_id) if call is not None else None
    if call is None or role is None or not call.is_live:
        return None
    if (gone := grace_over(call, reconnect_grace, at)) is not None:
        return MediaOutcome(await _complete(uow, call, gone, at), dial_expert=False, ended=True)
    here = kind == "joined"
    seeker = here if role == SEEKER else call.seeker_present
    expert = here if role == EXPERT else call.expert_present
    if (seeker, expert) == (call.seeker_present, call.expert_present):
        return None  # told twice (an event and the media server's sweep)
    values: dict[str, Any] = {"seeker_present": seeker, "expert_present": expert}
    if here and role == SEEKER and call.status == DIALING_SEEKER:
        # announced on its own, so the walk is visible; the expert's dial starts now
        call = await _set(uow, call, at, status=SEEKER_ANSWERED, dialed_at=at)
    if here and seeker and expert and call.status in (SEEKER_ANSWERED, DIALING_EXPERT):
        values.update(status=EXPERT_ANSWERED, answered_at=at, together_since=at, together_ms=0)
    elif call.status == EXPERT_ANSWERED:
        if not here and (voluntary or reconnect_grace <= 0):  # hung up: the call is over
            return MediaOutcome(await _complete(uow, call, at, at, **values), dial_expert=False, ended=True)
        values[f"{role}_left_at"] = None if here else at  # a drop starts the grace, a rejoin ends it
        if here and seeker and expert:
            values["together_since"] = at
        elif not here and call.together_since is not None:
            values.update(together_since=None, together_ms=_together_ms(call, at))
    changed = await _set(uow, call, at, **values)
    return MediaOutcome(changed, dial_expert=changed.status == SEEKER_ANSWERED and not changed.expert_present,
                        ended=False)


async def _complete(uow: UnitOfWork, call: Call, ended_at: datetime, at: datetime, **values: Any) -> Call:
    """The end of an answered call at ``ended_at`` (written at ``at``): its duration, the seconds both
    parties were together, rounded up, and its billing record (once per call)."""
    seconds = math.ceil(_together_ms(call, ended_at) / 1000)
    minutes, amount = charge(call.hourly_rate_cents, seconds)
    await uow.conn.execute(insert_ignoring_conflicts(uow.conn, call_billing_records).values(
        call_id=call.id, payer_id=call.seeker_id, payee_id=call.expert_id,
        hourly_rate_cents=call.hourly_rate_cents, billed_seconds=seconds, billed_minutes=minutes,
        amount_cents=amount, created_at=ended_at))
    return await _set(uow, call, at, **values, status=COMPLETED, duration=seconds, ended_at=ended_at,
                      together_ms=_together_ms(call, ended_at), together_since=None)


# -- cancel, expiry, dial timeouts


async def do_cancel(uow: UnitOfWork, user_id: int, call_id: Any, *, at: datetime | None = None) -> tuple[Call, bool]:
    """Either party cancels a call not yet answered: (the call, whether it had a media room)."""
    at = at or now()
    call = await access_call(uow.conn, user_id, call_id, lock=True)
    if call.status == EXPERT_ANSWERED:
        raise Conflict("call_in_progress", "This call is in progress: leave the call to end it.")
    if call.status not in (PENDING, DIALING_SEEKER, SEEKER_ANSWERED, DIALING_EXPERT):
        raise Conflict("call_over", _WHY_NOT_PENDING.get(call.status, "This call is over."))
    had_room = call.is_live
    return await _set(uow, call, at, status=CANCELED, canceled_by=user_id, ended_at=at), had_room


async def do_tick(uow: UnitOfWork, dial_timeout: float, reconnect_grace: float, *,
                  at: datetime | None = None) -> list[Call]:
    """The periodic job: pending requests past ``expires_at`` are canceled (``canceled_by`` null);
    a call whose dialled party did not join within ``dial_timeout`` seconds ends as
    ``seeker_unavailable`` or ``expert_unavailable``; an answered call a party dropped out of more
    than ``reconnect_grace`` seconds ago is completed as of that moment. Answers the calls ended whose
    media room is to go."""
    at = at or now()
    c = expert_calls.c
    expired = (await uow.conn.execute(select(expert_calls).where(c.status == PENDING, c.expires_at <= at)
                                      .with_for_update())).mappings().all()
    for row in expired:
        await _set(uow, _call(row), at, status=CANCELED, ended_at=at)
    dialing = (DIALING_SEEKER, SEEKER_ANSWERED, DIALING_EXPERT)
    stale = (await uow.conn.execute(select(expert_calls).where(
        c.status.in_(dialing), c.dialed_at <= at - timedelta(seconds=dial_timeout)).with_for_update())).mappings()
    ended = []
    for call in [_call(r) for r in stale.all()]:
        if call.status == DIALING_SEEKER or not call.seeker_present and call.expert_present:
            status = SEEKER_UNAVAILABLE
        else:
            status = EXPERT_UNAVAILABLE
        ended.append(await _set(uow, call, at, status=status, ended_at=at))
    since = at - timedelta(seconds=reconnect_grace)
    dropped = (await uow.conn.execute(select(expert_calls).where(
        c.status == EXPERT_ANSWERED, or_(c.seeker_left_at <= since, c.expert_left_at <= since))
        .with_for_update())).mappings()
    for call in [_call(r) for r in dropped.all()]:
        gone = grace_over(call, reconnect_grace, at)
        assert gone is not None
        ended.append(await _complete(uow, call, gone, at))
    return ended


# -- access for the media server


def may_be_in(call: Call | None, user_id: int) -> bool:
    """The two parties, while the call is dialing or answered; nobody else, never otherwise."""
    return call is not None and call.is_live and call.role_of(user_id) is not None


# -- needs


def _visible_requesters(user_id: int) -> Any:
    """Who shares an organization (a community) with ``user_id``."""
    mine = community_members.alias("mine")
    theirs = community_members.alias("theirs")
    return (select(theirs.c.user_id).join(mine, mine.c.community_id == theirs.c.community_id)
            .where(mine.c.user_id == user_id))


def _visible_to(user_id: int) -> Any:
    n = expert_needs.c
    return or_(n.requester_id == user_id, n.requester_id.in_(_visible_requesters(user_id)))


async def list_needs(conn: Connection, user_id: int, *, limit: int, offset: int) -> list[Need]:
    """Open needs of the members who share an organization with ``user_id``, and their own; newest first."""
    n = expert_needs.c
    rows = await conn.execute(select(expert_needs).where(_visible_to(user_id), n.call_id.is_(None),
                                                         n.fulfilled_at.is_(None))
                              .order_by(n.id.desc()).limit(limit).offset(offset))
    return [_need(r) for r in rows.mappings()]


async def do_post_need(uow: UnitOfWork, user_id: int, description: Any, paid: Any, *,
                       at: datetime | None = None) -> Need:
    at = at or now()
    text = check_description(description)
    flag = check_flag(paid, "paid")
    new_id = (await uow.conn.execute(expert_needs.insert().values(
        requester_id=user_id, description=text, paid=flag, created_at=at).returning(expert_needs.c.id))).scalar_one()
    row = (await uow.conn.execute(select(expert_needs).where(expert_needs.c.id == new_id))).mappings().one()
    return _need(row)


async def do_fulfill_need(uow: UnitOfWork, user_id: int, need_id: Any, *, expires_in: Any = None,
                          at: datetime | None = None) -> Call:
    """The fulfiller offers a call: a pending request with the need's requester as the seeker and the
    fulfiller as the expert, at the fulfiller's rate (0 for an unpaid need). A need is fulfilled once;
    the same fulfiller asking again (a retry) gets the same call."""
    at = at or now()
    n = expert_needs.c
    stmt = select(expert_needs).where(n.id == check_positive_id(need_id, "id"), _visible_to(user_id))
    row = (await uow.conn.execute(stmt.with_for_update(of=expert_needs))).mappings().first()
    if row is None:
        raise NotFound("need_not_found", "No such need.")
    need = _need(row)
    if need.requester_id == user_id:
        raise Forbidden("own_need", "You cannot fulfill your own need.")
    try:
        await _check_other_party(uow.conn, user_id, need.requester_id, "need")
    except NotFound as exc:  # a need of someone the fulfiller may not see is no need to them
        raise NotFound("need_not_found", "No such need.") from exc
    if need.fulfilled_at is not None:
        earlier = await get_call(uow.conn, need.call_id) if need.call_id is not None else None
        if need.fulfilled_by == user_id and earlier is not None:
            return earlier
        raise Conflict("need_fulfilled", "This need has already been fulfilled.")
    rate = await hourly_rate_cents(uow.conn, user_id) if need.paid else 0
    reason = " ".join(need.description.split())
    if len(reason) > MAX_REASON:
        reason = reason[:MAX_REASON - 1].rstrip() + "…"
    call = await _insert_call(uow, need.requester_id, user_id, reason, rate, check_expires_in(expires_in), None, at,
                              notify=need.requester_id)
    assert call is not None
    await uow.conn.execute(update(expert_needs).where(n.id == need.id).values(
        fulfilled_by=user_id, call_id=call.id, fulfilled_at=at))
    return call
