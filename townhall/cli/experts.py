"""Commands of the experts surface (Clarity API): ``oauth-app`` registers and manages the client
applications of its OAuth2 provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from townhall.cli.common import data_dir_option, make_settings, run_with_container


@click.group("oauth-app")
def oauth_app() -> None:
    """OAuth client applications of the experts API: create, list, regenerate-secret, delete.

    An application gets a public client_id and a client_secret (printed once: only its hash is
    kept); codes are sent to its one redirect URI.
    """


def _run(data_dir: Path | None, work: Any) -> Any:
    from townhall.core.errors import DomainError

    try:
        return run_with_container(make_settings(data_dir=data_dir), work)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def _show_credentials(made: Any, as_json: bool, verb: str) -> None:
    from townhall.api.experts.routes_applications import application_json

    if as_json:
        click.echo(json.dumps(application_json(made.application, made.client_secret), indent=2))
        return
    app = made.application
    click.echo(f"client_id:     {app.client_id}")
    click.echo(f"client_secret: {made.client_secret}")
    click.echo(f"{verb} application {app.name!r} (redirect URI {app.redirect_uri}); the secret is not shown again",
               err=True)


@oauth_app.command("create")
@click.option("--name", required=True, help="The application's name, shown to members when they authorize it")
@click.option("--redirect-uri", required=True, help="Where codes are sent: an absolute http(s) URI, no fragment")
@click.option("--json", "as_json", is_flag=True, help="Print the application and its secret as JSON")
@data_dir_option
def app_create(name: str, redirect_uri: str, as_json: bool, data_dir: Path | None) -> None:
    """Register an application (owned by the operator)."""
    from townhall.core.experts import oauth

    async def run(container: Any) -> Any:
        async with container.uow() as uow:
            return await oauth.do_register_application(uow, name=name, redirect_uri=redirect_uri)

    _show_credentials(_run(data_dir, run), as_json, "created")


@oauth_app.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list")
@data_dir_option
def app_list(as_json: bool, data_dir: Path | None) -> None:
    """List every application (members' and the operator's)."""
    from townhall.api.experts.routes_applications import application_json
    from townhall.core.experts import oauth

    async def run(container: Any) -> list[Any]:
        async with container.read() as conn:
            return await oauth.list_applications(conn, owner_id=None)

    found = _run(data_dir, run)
    if as_json:
        click.echo(json.dumps([{**application_json(app), "owner_id": app.owner_id} for app in found], indent=2))
        return
    for app in found:
        owner = f"member {app.owner_id}" if app.owner_id is not None else "operator"
        click.echo(f"{app.client_id}  {app.name:<24} {owner:<16} {app.redirect_uri}")


@oauth_app.command("regenerate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print the application and its new secret as JSON")
@data_dir_option
def app_regenerate_secret(client_id: str, as_json: bool, data_dir: Path | None) -> None:
    """Give CLIENT_ID a new secret: the old one and every token issued to it stop working."""
    from townhall.core.experts import oauth

    async def run(container: Any) -> Any:
        async with container.uow() as uow:
            return await oauth.do_regenerate_secret(uow, client_id, owner_id=None)

    _show_credentials(_run(data_dir, run), as_json, "new secret for")


@oauth_app.command("delete")
@click.argument("client_id")
@data_dir_option
def app_delete(client_id: str, data_dir: Path | None) -> None:
    """Delete CLIENT_ID: its tokens are revoked."""
    from townhall.core.experts import oauth

    async def run(container: Any) -> Any:
        async with container.uow() as uow:
            return await oauth.do_delete_application(uow, client_id, owner_id=None)

    app = _run(data_dir, run)
    click.echo(f"deleted application {app.client_id} ({app.name})")


COMMANDS: list[click.Command] = [oauth_app]
