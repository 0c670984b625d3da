"""Helpers every ``townhall`` command module shares: options, settings, migrations, tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import jwt
from pydantic import ValidationError

from townhall.config import Settings

if TYPE_CHECKING:
    from townhall.container import Container

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def data_dir_option(fn: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="TOWNHALL_DATA_DIR",
        show_envvar=True,
        help="Directory of the SQLite database and keys.json  [default: ./data]",
    )(fn)


def make_settings(**overrides: Any) -> Settings:
    """Settings from TOWNHALL_* with the options given on the command line on top."""
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        message = f"invalid settings (options or TOWNHALL_* variables):\n{exc}"
        raise click.UsageError(message) from exc


def user_token(api_secret: str, user_id: str, expires_in: int | None = None) -> str:
    """A Stream Chat user token: HS256 JWT ``{"user_id": ..., "iat": ...}``, with ``exp`` when asked
    (``iat`` lets a later revocation tell it apart from newer tokens)."""
    issued = int(time.time())
    claims: dict[str, Any] = {"user_id": user_id, "iat": issued}
    if expires_in is not None:
        claims["exp"] = issued + expires_in
    return jwt.encode(claims, api_secret, algorithm="HS256")


def migrate(settings: Settings, *, quiet: bool = False) -> None:
    """Upgrade the database; ``quiet``: only revisions actually applied are reported, on stderr."""
    from townhall.db.migrate import MigrationError, upgrade_sync

    settings.data_dir.mkdir(parents=True, exist_ok=True)

    def progress(line: str) -> None:
        if not quiet:
            click.echo(f"  {line}")
        elif "upgraded" in line:
            click.echo(f"  {line}", err=True)

    try:
        upgrade_sync(settings.resolved_database_url(), progress)
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from exc


def run_with_container(settings: Settings, work: Callable[[Container], Awaitable[T]], *,
                       must_exist: bool = False, start: bool = False) -> T:
    """Migrate the database (quietly), then run ``work(container)`` to completion.

    ``must_exist``: refuse a data directory that is not there yet (commands that only read).
    ``start``: also start the event bus and the media backend (long-running commands).
    """
    from townhall.container import Container

    if must_exist and settings.database_url is None and not settings.data_dir.exists():
        raise click.ClickException(f"no townhall data directory at {settings.data_dir.resolve()}")
    migrate(settings, quiet=True)

    async def main() -> T:
        container = Container.build(settings)
        if start:
            await container.start()
        try:
            return await work(container)
        finally:
            if start:
                await container.close()
            else:
                await container.db.dispose()

    return asyncio.run(main())
