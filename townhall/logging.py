"""Logging: one JSON object per line (``log_format=json``) or plain text, for every logger.

``logging_config(settings)`` is a ``logging.config.dictConfig`` dictionary; ``configure_logging``
applies it to this process and ``townhall serve`` hands the same dictionary to uvicorn, which
applies it in every worker process, so uvicorn's own and access logs come out the same way.

Anything passed as ``extra={...}`` becomes a field of the JSON object (``key=value`` in text).
"""

from __future__ import annotations

import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from townhall.config import Settings

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
# uvicorn.access records carry (client, method, path, http_version, status) as their args.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


# Credentials that clients put in URLs (the chat WebSocket sends its JWT as a query parameter).
# A name is matched whole (``oauth_token``, not only ``token``): a word character before it would
# otherwise hide it from ``\b``.
_SECRET_PARAM = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:oauth_|access_|user_|refresh_)?token|authorization|api_?secret|client_secret"
    r"|admin_key|admin_secret|code|code_verifier|refresh|password)=[^&\s\"']+")


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1=[redacted]", text)


class RedactSecrets(logging.Filter):
    """Keeps tokens out of the logs, whoever logs a URL (uvicorn's access and WebSocket lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            # URLs may come as objects (httpx's URL): they are redacted as the text they print as.
            record.args = tuple(redact(a) if isinstance(a, str) else redact(str(a)) if type(a).__name__ == "URL"
                                else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = redact(record.msg)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS and k[0] != "_"}
    if record.name == "uvicorn.access" and isinstance(record.args, tuple):
        if len(record.args) == len(_ACCESS_FIELDS):
            extras.update(zip(_ACCESS_FIELDS, record.args, strict=True))
    extras.pop("color_message", None)  # uvicorn's colored duplicate of the message
    return extras


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        extras = _extras(record)
        if record.name == "uvicorn.access":  # already in the message
            extras = {k: v for k, v in extras.items() if k not in _ACCESS_FIELDS}
        return line + "".join(f" {k}={v}" for k, v in extras.items())


def logging_config(settings: Settings) -> dict[str, Any]:
    level = settings.log_level.upper()
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{__name__}.{formatter.__name__}"}},
        "filters": {"redact": {"()": f"{__name__}.RedactSecrets"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        # uvicorn's loggers propagate to the root handler instead of having their own.
        "loggers": {
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # townhall.db.migrate reports each revision; alembic's own lines are noise. So are
            # httpx's, one per request townhall makes (Janus long-polls, webhook deliveries).
            "alembic": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
