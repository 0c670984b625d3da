"""Credentials of every surface: generated once per data dir and kept in <data_dir>/keys.json.

Settings may pin them instead (``TOWNHALL_CHAT__API_KEY`` / ``TOWNHALL_CHAT__API_SECRET``), which
is how several hosts of one cluster share them.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from townhall.config import Settings

KEYS_FILE = "keys.json"


@dataclass(frozen=True)
class Credentials:
    chat_api_key: str
    chat_api_secret: str
    social_jwt_secret: str = ""  # signs the social surface's access/refresh tokens and code hashes
    voice_service_token: str = ""  # the voice surface's shared `Authorization: Bearer` token

    def as_dict(self) -> dict[str, Any]:
        return {
            "chat": {"api_key": self.chat_api_key, "api_secret": self.chat_api_secret},
            "social": {"jwt_secret": self.social_jwt_secret},
            "voice": {"service_token": self.voice_service_token},
        }


def _generate() -> dict[str, Any]:
    return {
        "chat": {
            "api_key": secrets.token_hex(6),
            "api_secret": secrets.token_urlsafe(40),
        },
        "social": {
            "jwt_secret": secrets.token_urlsafe(40),
        },
        "voice": {
            "service_token": secrets.token_urlsafe(32),
        },
    }


def keys_path(settings: Settings) -> Path:
    return settings.data_dir / KEYS_FILE


def load_or_create_credentials(settings: Settings) -> Credentials:
    path = keys_path(settings)
    stored: dict[str, Any] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    fresh = _generate()
    changed = False
    for surface, values in fresh.items():  # later surfaces add their keys to an existing file
        if surface not in stored:
            stored[surface] = values
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    chat = stored["chat"]
    return Credentials(
        chat_api_key=settings.chat.api_key or chat["api_key"],
        chat_api_secret=settings.chat.api_secret or chat["api_secret"],
        social_jwt_secret=settings.social.jwt_secret or stored["social"]["jwt_secret"],
        voice_service_token=settings.voice.service_token or stored["voice"]["service_token"],
    )
