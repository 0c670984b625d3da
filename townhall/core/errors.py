"""Domain errors: a stable machine code, a human message and structured data.

Each surface maps the error kinds to its own status codes and error JSON.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    kind = "error"

    def __init__(self, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class Invalid(DomainError):
    kind = "invalid"


class NotFound(DomainError):
    kind = "not_found"


class Forbidden(DomainError):
    kind = "forbidden"


class Unauthenticated(DomainError):
    kind = "unauthenticated"


class Conflict(DomainError):
    kind = "conflict"


class RateLimited(DomainError):
    kind = "rate_limited"


class TooLarge(DomainError):
    kind = "too_large"
