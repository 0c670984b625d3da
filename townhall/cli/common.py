"""Helpers every ``townhall`` command module shares: options, settings, migrations, tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import jwt
from pydantic import ValidationError

from townhall.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


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


def migrate(settings: Settings) -> None:
    from townhall.db.migrate import MigrationError, upgrade_sync

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade_sync(settings.resolved_database_url(), lambda line: click.echo(f"  {line}"))
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
