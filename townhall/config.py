"""Settings. Built explicitly (``Settings()`` reads ``TOWNHALL_*`` then), never at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChatSettings(BaseModel):
    # Credentials: when unset they are generated once and kept in <data_dir>/keys.json.
    api_key: str | None = None
    api_secret: str | None = None
    # Multiplies every per-endpoint rate limit (0 disables rate limiting).
    rate_limit_multiplier: float = 1.0
    # Per-endpoint overrides, requests per minute: {"SendMessage": 5}.
    rate_limits: dict[str, int] = Field(default_factory=dict)
    # Seconds between server health.check frames on a WebSocket.
    ws_health_interval: float = 25.0
    max_request_bytes: int = 1_000_000


class SocialSettings(BaseModel):
    """The social surface (Clubhouse API): sign-in, SMS delivery, sign-up policy."""


class ForumSettings(BaseModel):
    """The forum surface (habitate API) and its webhooks."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOWNHALL_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("./data")
    # Default: SQLite file in the data dir. PostgreSQL: postgresql+asyncpg://user@host/db
    database_url: str | None = None
    # Unset: in-process event bus. Set (redis://127.0.0.1:6379/0): Redis pub/sub across processes.
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    log_format: Literal["json", "text"] = "json"
    # Base URL clients should use; derived from host/port when unset.
    public_url: str | None = None
    chat: ChatSettings = Field(default_factory=ChatSettings)
    social: SocialSettings = Field(default_factory=SocialSettings)
    forum: ForumSettings = Field(default_factory=ForumSettings)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'townhall.db').resolve()}"

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"
