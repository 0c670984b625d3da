"""Run the Janus that townhall ships: render ``janus_config/`` into a folder, start, stop, status.

``JanusServer(folder)`` keeps everything in that folder (``<data_dir>/janus`` for the CLI):
the rendered ``*.jcfg``, ``janus.pid``, ``janus.log`` and ``janus.json`` (URLs and the generated
secrets: ``admin_key``, ``admin_secret``, ``api_secret``; mode 0600), which the ``janus`` media
backend reads when the settings do not name them.
Janus is started as ``janus -F <folder> -C <folder>/janus.jcfg`` and stopped by its PID; the
Debian package's ``/etc/janus`` configuration is never used.

The rendered Janus demands ``api_secret`` in every API request. Clients never learn it: they signal
through townhall's proxy (``/media/janus``), which checks their join tickets and adds the secret
(townhall.media.janus_tickets). Without it, a client talking to Janus directly could join under any
participant id it had seen in the room, because AudioBridge does not bind a join token to an id.

``loopback_ice=True`` preloads a tiny ``getifaddrs()`` wrapper (built with the C compiler on first
use) that clears IFF_LOOPBACK on ``lo``: Janus skips loopback interfaces when gathering ICE
candidates, so without it clients on the same machine cannot connect (../shared/notes/janus.md).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import httpx

CONFIG_TEMPLATES = Path(__file__).resolve().parent / "janus_config"
STATE_FILE = "janus.json"
PID_FILE = "janus.pid"
LOG_FILE = "janus.log"
KEEP_PLUGINS = {"libjanus_audiobridge.so", "libjanus_streaming.so"}
KEEP_TRANSPORTS = {"libjanus_http.so"}
LIBRARY_ROOTS = ["/usr/lib/*/janus", "/usr/lib/janus", "/usr/local/lib/janus", "/opt/janus/lib/janus"]

LOOPBACK_ICE_SOURCE = r"""
/* getifaddrs() without IFF_LOOPBACK on lo, so that Janus gathers ICE candidates on 127.0.0.1. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

int getifaddrs(struct ifaddrs **ifap) {
    int (*real)(struct ifaddrs **) = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    int rc = real(ifap);
    if (rc == 0) {
        for (struct ifaddrs *i = *ifap; i != NULL; i = i->ifa_next) {
            if (i->ifa_name != NULL && strcmp(i->ifa_name, "lo") == 0) {
                i->ifa_flags &= ~IFF_LOOPBACK;
            }
        }
    }
    return rc;
}
"""


class JanusServerError(RuntimeError):
    """Janus is not installed, would not start, or did not stop."""


@dataclass(frozen=True)
class JanusStatus:
    running: bool
    pid: int | None
    url: str | None
    admin_url: str | None
    folder: Path
    version: str | None = None


def find_janus_binary() -> str | None:
    return shutil.which("janus") or next(
        (p for p in ("/usr/bin/janus", "/usr/local/bin/janus", "/opt/janus/bin/janus") if os.access(p, os.X_OK)),
        None,
    )


def find_library_root() -> Path | None:
    for pattern in LIBRARY_ROOTS:
        for match in sorted(glob.glob(pattern)):
            if (Path(match) / "plugins" / "libjanus_audiobridge.so").exists():
                return Path(match)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _disabled(folder: Path, keep: set[str]) -> str:
    if not folder.is_dir():
        return ""
    names = sorted(p.name for p in folder.glob("libjanus_*.so"))
    return ",".join(name for name in names if name not in keep)


def build_loopback_ice_library(folder: Path) -> Path:
    """Compile the getifaddrs wrapper into ``folder`` (once) and return the .so path."""
    target = folder / "loopback_ice.so"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise JanusServerError("loopback ICE needs a C compiler (cc/gcc) to build its getifaddrs wrapper")
    source = folder / "loopback_ice.c"
    source.write_text(LOOPBACK_ICE_SOURCE)
    result = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(target), str(source), "-ldl"],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise JanusServerError(f"could not build {target}: {result.stderr.strip()}")
    return target


class JanusServer:
    """One Janus process owned by townhall, with all its files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()

    # -- state

    @property
    def state_path(self) -> Path:
        return self.folder / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_FILE

    def read_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_path.read_text()))
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, indent=2)
        os.replace(tmp, self.state_path)

    def pid(self) -> int | None:
        try:
            pid = int((self.folder / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._is_our_janus(pid) else None

    def _is_our_janus(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # a zombie of ours, not reaped yet
            return False
        return bool(cmdline) and Path(cmdline[0].decode()).name == "janus" and str(self.folder).encode() in b" ".join(
            cmdline
        )

    # -- configuration

    def render_config(
        self,
        *,
        http_port: int = 8088,
        admin_port: int = 7088,
        admin_key: str | None = None,
        admin_secret: str | None = None,
        api_secret: str | None = None,
        ip: str = "127.0.0.1",
        ice_interface: str = "127.0.0.1",
        ice_enforce_list: str = "lo",
        rtp_port_range: str = "20000-40000",
        debug_level: int = 4,
    ) -> dict[str, Any]:
        """Write the shipped templates into the folder with these values; keep generated secrets."""
        root = find_library_root()
        if root is None:
            raise JanusServerError("Janus plugins not found (install Janus: apt-get install janus)")
        previous = self.read_state()
        state = {
            "url": f"http://{ip}:{http_port}/janus",
            "admin_url": f"http://{ip}:{admin_port}/admin",
            "http_port": http_port,
            "admin_port": admin_port,
            "admin_key": admin_key or previous.get("admin_key") or secrets.token_urlsafe(24),
            "admin_secret": admin_secret or previous.get("admin_secret") or secrets.token_urlsafe(24),
            "api_secret": api_secret or previous.get("api_secret") or secrets.token_urlsafe(24),
        }
        values = {
            "config_dir": str(self.folder),
            "plugins_folder": str(root / "plugins"),
            "transports_folder": str(root / "transports"),
            "events_folder": str(root / "events"),
            "loggers_folder": str(root / "loggers"),
            "log_file": str(self.log_path),
            "debug_level": str(debug_level),
            "admin_secret": state["admin_secret"],
            "admin_key": state["admin_key"],
            "api_secret": state["api_secret"],
            "http_ip": ip,
            "http_port": str(http_port),
            "admin_port": str(admin_port),
            "ice_interface": ice_interface,
            "ice_enforce_list": ice_enforce_list,
            "rtp_port_range": rtp_port_range,
            "disabled_plugins": _disabled(root / "plugins", KEEP_PLUGINS),
            "disabled_transports": _disabled(root / "transports", KEEP_TRANSPORTS),
            "disabled_loggers": _disabled(root / "loggers", set()),
            "disabled_events": _disabled(root / "events", set()),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        for template in sorted(CONFIG_TEMPLATES.glob("*.jcfg")):
            text = Template(template.read_text()).substitute(values)
            target = self.folder / template.name
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        self._write_state(state)
        return state

    # -- process

    def start(self, *, loopback_ice: bool = False, timeout: float = 20.0, **config: Any) -> JanusStatus:
        """Render the configuration and start Janus, unless it already runs; wait for its API."""
        if self.pid() is not None:
            return self.status()
        binary = find_janus_binary()
        if binary is None:
            raise JanusServerError("janus is not installed (apt-get install janus)")
        state = self.render_config(**config)
        env = dict(os.environ)
        if loopback_ice:
            env["LD_PRELOAD"] = str(build_loopback_ice_library(self.folder))
        with open(self.folder / "janus.stdout", "ab") as out:
            process = subprocess.Popen(
                [binary, "-F", str(self.folder), "-C", str(self.folder / "janus.jcfg"), "-o"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )
        (self.folder / PID_FILE).write_text(f"{process.pid}\n")
        state["pid"] = process.pid
        state["loopback_ice"] = loopback_ice
        self._write_state(state)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise JanusServerError(f"janus exited with {process.returncode}:\n{self.tail()}")
            if self._answers(state["url"]):
                return self.status()
            time.sleep(0.1)
        self.stop()
        raise JanusServerError(f"janus did not answer on {state['url']} within {timeout:.0f}s:\n{self.tail()}")

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the Janus started from this folder; False when none was running."""
        pid = self.pid()
        if pid is None:
            (self.folder / PID_FILE).unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.05)
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        (self.folder / PID_FILE).unlink(missing_ok=True)
        return True

    def _alive(self, pid: int) -> bool:
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
        except ChildProcessError:
            pass
        return self._is_our_janus(pid)

    def status(self) -> JanusStatus:
        state = self.read_state()
        pid = self.pid()
        version = None
        if pid is not None and state.get("url"):
            try:
                info = httpx.get(f"{state['url']}/info", timeout=2.0).json()
                version = str(info.get("version_string", ""))
            except (httpx.HTTPError, ValueError):
                version = None
        return JanusStatus(
            running=pid is not None, pid=pid, url=state.get("url"), admin_url=state.get("admin_url"),
            folder=self.folder, version=version,
        )

    def tail(self, lines: int = 40) -> str:
        texts = []
        for path in (self.folder / "janus.stdout", self.log_path):
            if path.exists():
                texts += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(texts)

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            return httpx.get(f"{url}/info", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False
