"""A loopback reverse proxy that serves townhall's ``/chat`` API at the root of its own port.

Why: ``StreamChatAsync`` (PyPI stream-chat 4.33.0) builds an ``aiohttp.ClientSession(base_url=...)``
and requests ``"/" + relative_url``. aiohttp refuses a base URL whose path has no trailing slash
(``ValueError: base_url must have a trailing '/'``) and, given ``.../chat/``, joins the absolute
path ``/app`` onto it as ``http://host/app``: the ``/chat`` prefix is dropped. So the async SDK can
only reach an API served at the root of a host. Until townhall serves one, the async half of
Stream's suite runs through this proxy to measure everything else.

Usage: python prefix_proxy.py LISTEN_PORT UPSTREAM_URL   (e.g. 8771 http://127.0.0.1:8770/chat)
"""

from __future__ import annotations

import sys

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def build_app(upstream: str) -> web.Application:
    upstream = upstream.rstrip("/")

    async def forward(request: web.Request) -> web.StreamResponse:
        session: aiohttp.ClientSession = request.app["session"]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with session.request(
            request.method,
            upstream + request.rel_url.path,
            params=request.rel_url.query,
            data=await request.read(),
            headers=headers,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            # raw_headers keeps the upstream's exact header-name case (aiohttp's parsed headers
            # re-case well-known names, and the SDK reads its x-ratelimit-* keys case-sensitively)
            out = CIMultiDict()
            for raw_name, raw_value in resp.raw_headers:
                name = raw_name.decode("latin-1")
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                    out.add(name, raw_value.decode("latin-1"))
            return web.Response(status=resp.status, body=body, headers=out)

    async def on_startup(app: web.Application) -> None:
        app["session"] = aiohttp.ClientSession(auto_decompress=True)

    async def on_cleanup(app: web.Application) -> None:
        await app["session"].close()

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


if __name__ == "__main__":
    web.run_app(build_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), print=None)
