"""The landing page at ``/``: every surface, where it lives, its docs, and the service endpoints."""

from __future__ import annotations

from html import escape

from townhall import __version__
from townhall.api.common.surfaces import SURFACES

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>townhall</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; color: #1d232b;
         max-width: 52rem; margin: 3rem auto; padding: 0 1rem; }}
  h1 {{ margin-bottom: 0; }}
  p.lead {{ color: #55606e; margin-top: .25rem; }}
  table {{ border-collapse: collapse; width: 100%; margin: 1.5rem 0; }}
  th, td {{ text-align: left; padding: .5rem .75rem; border-bottom: 1px solid #e3e6ea; }}
  code {{ font-size: .95em; }}
  .live {{ color: #0a7a32; font-weight: 600; }}
  .coming {{ color: #8a6d00; }}
</style>
</head>
<body>
<h1>townhall</h1>
<p class="lead">One community server, five wire APIs. Version {version}.</p>
<table>
<thead><tr><th>surface</th><th>API</th><th>speaks</th><th>docs</th><th>status</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p>Service: <a href="/healthz"><code>/healthz</code></a> (health) ·
<a href="/metrics"><code>/metrics</code></a> (Prometheus).
Credentials: <code>townhall keys</code>.</p>
</body>
</html>
"""

_ROW = (
    "<tr><td>{name}</td><td><code>{path}</code></td><td>{speaks}</td>"
    '<td>{docs}</td><td class="{status}">{status}</td></tr>'
)


def landing_page() -> str:
    rows = "\n".join(
        _ROW.format(
            name=escape(s.name),
            path=escape(s.path),
            speaks=escape(s.speaks),
            docs=(
                f'<a href="{escape(s.docs)}"><code>{escape(s.docs)}</code></a>'
                if s.live
                else f"<code>{escape(s.docs)}</code>"
            ),
            status="live" if s.live else "coming",
        )
        for s in SURFACES
    )
    return _PAGE.format(version=escape(__version__), rows=rows)
