"""User text. Rich fields (post, comment and reply ``content``, ``user_description``) are HTML
sanitised with nh3 (a maintained sanitiser). Every other text field (a post's ``headline``, a
board's ``about``, a tag's ``description``/``og_*``) and the derived ``clean_text`` and
``post_short_text`` are PLAIN TEXT, HTML-safe as they are: no markup survives (tags removed,
scripts and styles with their content) and ``&``, ``<`` and ``>`` stay escaped as entities, so
``&lt;img ...&gt;`` sent by a client is never turned into a live ``<img>``. Cleaning is
idempotent: what the API answers can be sent back unchanged. URL fields are http(s) only.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

import nh3

from townhall.core.errors import Invalid

SHORT_TEXT_LENGTH = 110
MAX_URL = 2000
_BLOCK_END = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/blockquote|/pre|/tr)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def sanitize(content: str) -> str:
    """Safe HTML: scripts, styles and unsafe attributes (on*, javascript: URLs) removed."""
    return nh3.clean(content, clean_content_tags={"script", "style"})


def plain(value: str) -> str:
    """Plain, HTML-safe text: markup removed, ``&<>`` as entities, whitespace collapsed."""
    return _SPACES.sub(" ", nh3.clean(value, tags=set(), clean_content_tags={"script", "style"})).strip()


def clean_text(content: str) -> str:
    """The plain text (see :func:`plain`) of (already sanitised) HTML."""
    return plain(_BLOCK_END.sub(" ", content))


def short_text(text: str, length: int = SHORT_TEXT_LENGTH) -> str:
    """The beginning of plain ``text``, cut at a word boundary (never inside an entity)."""
    raw = html.unescape(text)
    if len(raw) <= length:
        return text
    cut = raw[:length]
    space = cut.rfind(" ")
    return html.escape((cut[:space] if space > length // 2 else cut).rstrip(), quote=False)


def check_http_url(value: Any, name: str) -> str | None:
    """An http(s) URL (or None): no javascript:, data: or relative URLs."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL or urlsplit(value).scheme.lower() not in ("http", "https") \
            or not urlsplit(value).netloc or not value.isprintable():
        raise Invalid(f"invalid_{name}", f"{name} must be an http(s) URL", field=name)
    return value


def check_plain(value: Any, name: str, max_length: int, *, required: bool = False) -> str | None:
    """A plain-text field, cleaned; its length is checked once cleaned (entities included)."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise Invalid(f"invalid_{name}", f"{name} must be text", field=name)
    cleaned = plain(value)
    if required and not cleaned:
        raise Invalid(f"invalid_{name}", f"{name} is required (1-{max_length} characters)", field=name)
    if len(cleaned) > max_length:
        raise Invalid(f"invalid_{name}", f"{name} is longer than {max_length} characters (HTML-escaped)",
                      field=name)
    return cleaned or None
