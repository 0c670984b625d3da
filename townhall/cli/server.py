"""The commands that run and administer the server: serve, db, keys, token."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from townhall import __version__
from townhall.api.common.surfaces import SURFACES
from townhall.cli.common import data_dir_option, make_settings, migrate, user_token
from townhall.config import Settings
from townhall.credentials import keys_path, load_or_create_credentials


@click.command()
@click.option(
    "--host",
    envvar="TOWNHALL_HOST",
    show_envvar=True,
    help="Interface to listen on  [default: 127.0.0.1]",
)
@click.option(
    "--port", type=int, envvar="TOWNHALL_PORT", show_envvar=True, help="Port  [default: 8000]"
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    envvar="TOWNHALL_WORKERS",
    show_envvar=True,
    help="Worker processes  [default: 1]; more than one needs TOWNHALL_REDIS_URL for live events",
)
@data_dir_option
def serve(host: str | None, port: int | None, workers: int | None, data_dir: Path | None) -> None:
    """Migrate the database, then serve every surface over HTTP.

    Uses SQLite in the data directory and an in-process event bus unless TOWNHALL_DATABASE_URL
    (postgresql+asyncpg://...) and TOWNHALL_REDIS_URL (redis://...) say otherwise.
    """
    import uvicorn

    from townhall.logging import configure_logging, logging_config

    settings = make_settings(host=host, port=port, workers=workers, data_dir=data_dir)
    settings.data_dir = settings.data_dir.resolve()
    configure_logging(settings)
    if settings.workers > 1 and not settings.redis_url:
        raise click.UsageError(
            "--workers > 1 needs TOWNHALL_REDIS_URL: live events must cross the worker processes"
        )
    click.echo("Migrating the database")
    migrate(settings)
    # Before the workers start, so they all read the same keys.json instead of racing to write it.
    load_or_create_credentials(settings)
    _print_banner(settings)

    # Worker processes build their own app from the environment: hand them these settings.
    os.environ.update(
        TOWNHALL_HOST=settings.host,
        TOWNHALL_PORT=str(settings.port),
        TOWNHALL_WORKERS=str(settings.workers),
        TOWNHALL_DATA_DIR=str(settings.data_dir),
    )
    uvicorn.run(
        "townhall.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        # The protocol whose sockets the chat hub writes frames to directly (realtime/wsframes.py).
        ws="websockets-sansio",
        log_config=logging_config(settings),
        timeout_graceful_shutdown=10,
        # Per-message compression costs more CPU than anything else when one event goes to
        # many watchers; chat frames are small.
        ws_per_message_deflate=False,
    )


def _print_banner(settings: Settings) -> None:
    base = settings.base_url()
    if not settings.public_url and settings.host in ("0.0.0.0", "::", ""):
        base = f"http://127.0.0.1:{settings.port}"
    click.echo(f"\ntownhall {__version__} on {base}")
    rows = [
        (s.name, f"{base}{s.path}", f"{s.speaks}; " + (f"docs {s.docs}" if s.live else "coming"))
        for s in SURFACES
    ]
    rows.append(("health", f"{base}/healthz", f"metrics {base}/metrics"))
    name_width = max(len(name) for name, _, _ in rows)
    url_width = max(len(url) for _, url, _ in rows)
    for name, url, note in rows:
        click.echo(f"  {name:<{name_width}}  {url:<{url_width}}  ({note})")
    click.echo(f"Credentials: `townhall keys` (stored in {keys_path(settings)})\n")


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: Path | None) -> None:
    """Upgrade the database to the newest schema (safe to run again; serve does it on start)."""
    migrate(make_settings(data_dir=data_dir))


@click.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object: {"chat": {"api_key": ..., "api_secret": ...}, ...}',
)
@data_dir_option
def keys(as_json: bool, data_dir: Path | None) -> None:
    """Print the credentials of every surface (created once per data directory)."""
    settings = make_settings(data_dir=data_dir)
    credentials = load_or_create_credentials(settings).as_dict()
    from townhall.cli.forum import first_forum_key  # the forum's keys live (hashed) in the database

    credentials["forum"] = {"api_key": first_forum_key(settings)}
    if as_json:
        click.echo(json.dumps(credentials, indent=2))
        return
    for surface, values in credentials.items():
        for i, (name, value) in enumerate(values.items()):
            click.echo(f"{surface if i == 0 else '':<8}{name:<12}{value}")
    click.echo(f"\nStored in {keys_path(settings)}", err=True)


@click.command()
@click.argument("user_id")
@click.option(
    "--exp",
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="Make the token expire SECONDS from now  [default: never]",
)
@data_dir_option
def token(user_id: str, exp: int | None, data_dir: Path | None) -> None:
    """Print a chat user token for USER_ID (what a Stream Chat client connects with)."""
    credentials = load_or_create_credentials(make_settings(data_dir=data_dir))
    click.echo(user_token(credentials.chat_api_secret, user_id, exp))


COMMANDS = [serve, db, keys, token]
