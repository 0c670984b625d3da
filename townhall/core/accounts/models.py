from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ROLES = ("user", "admin", "guest", "anonymous", "moderator")


class User(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    chat_id: str
    name: str | None = None
    image: str | None = None
    role: str = "user"
    language: str | None = None
    invisible: bool = False
    banned: bool = False
    custom: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    last_active: datetime | None = None
    deactivated_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None and self.deleted_at is None
