"""The experts surface's HTML pages (the OAuth sign-in and approval pages, the public member and
organization pages): one document shape, every value escaped with ``e``."""

from __future__ import annotations

import html
from typing import Any

from fastapi.responses import HTMLResponse

BASE_STYLE = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}"


def e(value: Any) -> str:
    """``value`` as text safe inside HTML content and quoted attributes."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, headers: dict[str, str], status: int = 200, style: str = "") -> HTMLResponse:
    """A whole HTML document: ``title`` (escaped here), ``body`` (HTML its caller escaped), ``style`` (CSS)."""
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · townhall</title>
<style>
{BASE_STYLE}
{style}
</style></head><body>
{body}
</body></html>"""
    return HTMLResponse(document, status_code=status, headers=headers)
