"""Commands of the media layer: ``townhall janus start|stop|status`` (the Janus townhall ships)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from townhall.cli.common import data_dir_option, make_settings

if TYPE_CHECKING:
    from townhall.media.janus_server import JanusServer


def _server(data_dir: Path | None) -> JanusServer:
    from townhall.media import janus_folder
    from townhall.media.janus_server import JanusServer

    return JanusServer(janus_folder(make_settings(data_dir=data_dir)))


def _ip(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address") from None


def _matching(pattern: str, what: str) -> Callable[[click.Context, click.Parameter, str], str]:
    def check(ctx: click.Context, param: click.Parameter, value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise click.BadParameter(f"{value!r} is not {what}")
        return value

    return check


@click.group()
def janus() -> None:
    """Run the Janus media server with the configuration townhall ships (never /etc/janus).

    Everything lives in <data dir>/janus: the rendered config, janus.pid, janus.log and janus.json
    (URL and generated secrets, read by `townhall serve` when TOWNHALL_MEDIA__BACKEND=janus).
    """


@janus.command("start")
@click.option("--port", type=click.IntRange(1, 65535), default=8088, show_default=True, help="Janus HTTP API port")
@click.option("--admin-port", type=click.IntRange(1, 65535), default=7088, show_default=True,
              help="Janus admin API port")
@click.option("--loopback-ice", is_flag=True,
              help="Let WebRTC clients on this same machine connect (preloads a getifaddrs wrapper; "
                   "needs a C compiler). For development and tests.")
@click.option("--ice-ip", default="127.0.0.1", show_default=True, callback=_ip,
              help="Address Janus offers WebRTC clients (a public address for remote clients)")
@click.option("--ice-interface", default="lo", show_default=True,
              callback=_matching(r"[A-Za-z0-9._:-]+(,[A-Za-z0-9._:-]+)*", "a comma-separated list of interfaces"),
              help="Interfaces (comma-separated names or address prefixes) Janus gathers ICE candidates on")
@click.option("--rtp-ports", default="20000-40000", show_default=True, help="UDP port range for media",
              callback=_matching(r"[0-9]{1,5}-[0-9]{1,5}", "a port range like 20000-40000"))
@data_dir_option
def janus_start(port: int, admin_port: int, loopback_ice: bool, ice_ip: str, ice_interface: str, rtp_ports: str,
                data_dir: Path | None) -> None:
    """Write the config (with generated secrets) and start Janus; wait until it answers.

    Its HTTP API listens on 127.0.0.1 only: remote clients reach it through a reverse proxy, whose
    URL goes in TOWNHALL_MEDIA__JANUS_PUBLIC_URL.
    """
    from townhall.media.janus_server import JanusServerError

    server = _server(data_dir)
    already = server.status()
    if already.running:
        click.echo(f"Janus already running (pid {already.pid}) on {already.url}")
        return
    try:
        status = server.start(http_port=port, admin_port=admin_port, loopback_ice=loopback_ice, ice_interface=ice_ip,
                              ice_enforce_list=ice_interface, rtp_port_range=rtp_ports)
    except JanusServerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Janus {status.version or ''} running (pid {status.pid})".replace("  ", " "))
    click.echo(f"  API     {status.url}")
    click.echo(f"  admin   {status.admin_url}")
    click.echo(f"  files   {status.folder} (log: {server.log_path})")
    click.echo("Use it: TOWNHALL_MEDIA__BACKEND=janus townhall serve (same --data-dir)")


@janus.command("stop")
@data_dir_option
def janus_stop(data_dir: Path | None) -> None:
    """Stop the Janus that `townhall janus start` started (by its PID)."""
    server = _server(data_dir)
    if server.stop():
        click.echo("Janus stopped")
    else:
        click.echo("Janus was not running")


@janus.command("status")
@click.option("--json", "as_json", is_flag=True, help='Print {"running", "pid", "url", "admin_url", "folder"}')
@data_dir_option
def janus_status(as_json: bool, data_dir: Path | None) -> None:
    """Say whether the Janus of this data directory runs, and where. Exits 1 when it does not."""
    status = _server(data_dir).status()
    if as_json:
        click.echo(json.dumps({
            "running": status.running, "pid": status.pid, "url": status.url, "admin_url": status.admin_url,
            "folder": str(status.folder), "version": status.version,
        }))
    elif status.running:
        click.echo(f"Janus {status.version or ''} running (pid {status.pid}) on {status.url}".replace("  ", " "))
    else:
        click.echo(f"Janus not running (files in {status.folder})")
    if not status.running:
        raise SystemExit(1)


COMMANDS: list[click.Command] = [janus]
