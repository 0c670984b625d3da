"""Commands of the social surface (Clubhouse API): sms, users, incidents."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from townhall.cli.common import data_dir_option, make_settings, run_with_container

if TYPE_CHECKING:
    from townhall.container import Container

T = TypeVar("T")


def _run(data_dir: Path | None, work: Callable[[Container], Awaitable[T]]) -> T:
    return run_with_container(make_settings(data_dir=data_dir), work, must_exist=True)


@click.group()
def sms() -> None:
    """Text messages sent by the console SMS backend (development)."""


@sms.command("last")
@click.argument("phone")
@data_dir_option
def sms_last(phone: str, data_dir: Path | None) -> None:
    """Print the last text message sent to PHONE (E.164, e.g. +14155550100) and its code."""
    from townhall.core.accounts import signin
    from townhall.core.errors import Invalid

    try:
        number = signin.normalize_phone(phone)
    except Invalid as exc:
        raise click.BadParameter(exc.message, param_hint="PHONE") from exc

    async def work(container: Container) -> Any:
        async with container.read() as conn:
            return await signin.last_sms(conn, number)

    found = _run(data_dir, work)
    if found is None:
        raise click.ClickException(f"no text message to {number} yet")
    body, sent_at = found
    click.echo(body)
    click.echo(f"(sent {sent_at.isoformat()} to {number})", err=True)


@click.group()
def users() -> None:
    """Manage the people of the social surface: list, let in from the waitlist, ban."""


@users.command("list")
@click.option("--waitlisted", is_flag=True, help="Only accounts waiting on the waitlist")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@data_dir_option
def users_list(waitlisted: bool, as_json: bool, limit: int, data_dir: Path | None) -> None:
    """List accounts with a social profile: id, username, name, phone, state."""
    from townhall.core.accounts.profiles import list_profiles

    async def work(container: Container) -> list[tuple[Any, str | None]]:
        async with container.read() as conn:
            return await list_profiles(conn, waitlisted_only=waitlisted, limit=limit)

    for p, phone in _run(data_dir, work):
        state = "banned" if p.banned else "waitlisted" if p.waitlisted else "active"
        if as_json:
            click.echo(json.dumps({"user_id": p.user_id, "username": p.username, "name": p.name, "phone": phone,
                                   "state": state, "invited_by": p.invited_by}))
        else:
            click.echo(f"{p.user_id:>8}  {p.username or '-':<16}  {p.name or '-':<24}  {phone or '-':<16}  {state}")


@users.command("admit")
@click.argument("user_ids", nargs=-1, type=int, required=True)
@data_dir_option
def users_admit(user_ids: tuple[int, ...], data_dir: Path | None) -> None:
    """Let USER_IDS in from the waitlist."""
    from townhall.core.social import invites

    async def work(container: Container) -> list[tuple[int, bool]]:
        out = []
        async with container.uow() as uow:
            for user_id in user_ids:
                out.append((user_id, await invites.do_admit(uow, user_id, invited_by=None,
                                                            invites_per_user=container.settings.social.invites_per_user)))
        return out

    for user_id, done in _run(data_dir, work):
        click.echo(f"{user_id}: {'let in' if done else 'not on the waitlist'}")


@users.command("ban")
@click.argument("user_ids", nargs=-1, type=int, required=True)
@click.option("--undo", is_flag=True, help="Lift the ban instead")
@data_dir_option
def users_ban(user_ids: tuple[int, ...], undo: bool, data_dir: Path | None) -> None:
    """Ban USER_IDS: their sessions end and every request answers 403 (--undo lifts it)."""
    from townhall.core.accounts.profiles import do_ban

    async def work(container: Container) -> list[tuple[int, bool]]:
        async with container.uow() as uow:
            return [(user_id, await do_ban(uow, user_id, not undo)) for user_id in user_ids]

    for user_id, found in _run(data_dir, work):
        click.echo(f"{user_id}: {('unbanned' if undo else 'banned') if found else 'no such user'}")


@click.command()
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line")
@data_dir_option
def incidents(limit: int, as_json: bool, data_dir: Path | None) -> None:
    """List the moderation queue: incidents users reported (newest first)."""
    from townhall.core.social import incidents as queue

    async def work(container: Container) -> list[Any]:
        async with container.read() as conn:
            return await queue.list_incidents(conn, limit)

    for i in _run(data_dir, work):
        if as_json:
            click.echo(json.dumps({"id": i.id, "reporter_id": i.reporter_id, "user_id": i.user_id,
                                   "channel": i.channel, "incident_type": i.incident_type,
                                   "description": i.description, "email": i.email,
                                   "created_at": i.created_at.isoformat()}))
        else:
            click.echo(f"#{i.id} {i.created_at:%Y-%m-%d %H:%M} reporter {i.reporter_id} about "
                       f"{i.user_id or '-'} room {i.channel or '-'} [{i.incident_type or '-'}] {i.description}")


COMMANDS: list[click.Command] = [sms, users, incidents]
