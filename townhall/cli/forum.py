"""Commands of the forum surface (habitate API) and the job worker: ``forum-keys``, ``worker``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from townhall.cli.common import data_dir_option, make_settings, run_with_container
from townhall.config import Settings

BOOTSTRAP_FILE = "forum_key.json"


def first_forum_key(settings: Settings) -> str:
    """The key ``townhall keys`` shows: the configured one, or one created on first use (its
    plain text kept in <data_dir>/forum_key.json, readable by the owner only)."""
    from townhall.core.forum import keys

    path = settings.data_dir / BOOTSTRAP_FILE

    async def run(container: Any) -> str:
        if settings.forum.api_key:
            async with container.uow() as uow:
                await keys.ensure_key(uow, settings.forum.api_key)
            return settings.forum.api_key
        if path.exists():
            stored = json.loads(path.read_text()).get("api_key", "")
            async with container.read() as conn:
                if stored and await keys.is_valid_key(conn, stored):
                    return str(stored)
        async with container.uow() as uow:
            key, _ = await keys.do_create_key(uow, "default")
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"api_key": key}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return key

    return run_with_container(settings, run)


@click.group("forum-keys")
def forum_keys() -> None:
    """API keys of the forum API: create, list, revoke.

    A key is the HTTP Basic password of the habitate API; each acts as an API user with a role.
    """


@forum_keys.command("create")
@click.option("--name", required=True, help="What the key is for (shown in lists and as its API user's name)")
@click.option("--role", "role_id", type=click.IntRange(1, 4), default=2, show_default=True,
              help="Role of its API user: 1 owner, 2 admin, 3 moderator, 4 member")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its details as JSON")
@data_dir_option
def keys_create(name: str, role_id: int, as_json: bool, data_dir: Path | None) -> None:
    """Create a key. It is printed once: only its hash is stored."""
    from townhall.api.forum import render
    from townhall.core.errors import DomainError
    from townhall.core.forum import keys

    async def run(container: Any) -> tuple[str, Any]:
        async with container.uow() as uow:
            return await keys.do_create_key(uow, name, role_id)

    try:
        key, info = run_with_container(make_settings(data_dir=data_dir), run)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps({"api_key": key, **render.drop_nulls(render.key(info))}, indent=2))
        return
    click.echo(key)
    click.echo(f"key {info.id} ({info.name}, role {info.role_id}, API user {info.msid}); it is not shown again",
               err=True)


@forum_keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list")
@data_dir_option
def keys_list(include_revoked: bool, as_json: bool, data_dir: Path | None) -> None:
    """List keys (their ids and prefixes; the keys themselves are not stored)."""
    from townhall.api.forum import render
    from townhall.core.forum import keys

    async def run(container: Any) -> list[Any]:
        async with container.read() as conn:
            return await keys.list_keys(conn, include_revoked=include_revoked)

    found = run_with_container(make_settings(data_dir=data_dir), run)
    if as_json:
        click.echo(json.dumps([render.drop_nulls(render.key(k)) for k in found], indent=2))
        return
    for k in found:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        click.echo(f"{k.id:<5} {k.prefix}…  role {k.role_id}  {k.name:<24} {k.msid}  {state}")


@forum_keys.command("revoke")
@click.argument("key_id", type=int)
@data_dir_option
def keys_revoke(key_id: int, data_dir: Path | None) -> None:
    """Revoke the key KEY_ID: requests with it are refused (403) from now on."""
    from townhall.core.errors import DomainError
    from townhall.core.forum import keys

    async def run(container: Any) -> Any:
        async with container.uow() as uow:
            return await keys.do_revoke_key(uow, key_id)

    try:
        info = run_with_container(make_settings(data_dir=data_dir), run)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"revoked key {info.id} ({info.name})")


@click.command()
@data_dir_option
def worker(data_dir: Path | None) -> None:
    """Deliver the outbox (webhooks) in this process, until stopped. Any number may run at once,
    next to the serving processes (set TOWNHALL_FORUM__WORKER_IN_PROCESS=false to serve without)."""
    from townhall.jobs.worker import OutboxWorker
    from townhall.logging import configure_logging

    settings = make_settings(data_dir=data_dir)
    configure_logging(settings)

    async def run(container: Any) -> None:
        outbox_worker = OutboxWorker(container)
        click.echo("townhall worker: delivering the outbox (Ctrl-C to stop)", err=True)
        try:
            await outbox_worker.run()
        finally:
            await outbox_worker.close()

    try:
        run_with_container(settings, run)
    except KeyboardInterrupt:
        pass


COMMANDS: list[click.Command] = [forum_keys, worker]
