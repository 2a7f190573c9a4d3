"""Which browser pages may open `/ws`: the server's own origin and the configured ones.

A browser sends `Origin` with every WebSocket handshake, and lets any site's script
open a socket to any server; the check refuses (403, before the upgrade) pages from
elsewhere. Clients that are not browsers (the Python client, door scanners' apps) send
no `Origin` and are let through: they hold a token, and the hello checks it anyway.

The server's own origin is PODIUM_PUBLIC_URL's when that is set, and otherwise the
`Host` the request names, over http or https (behind a TLS proxy the server itself sees
plain http).
"""

from __future__ import annotations

from aiohttp import web

from .. import appkeys as keys
from ..config import origin_of
from ..errors import Forbidden


def own_origins(request: web.Request) -> set[str]:
    config = request.app[keys.CONFIG]
    if config.public_url:
        public = origin_of(config.public_url)
        return {public} if public else set()
    own = set()
    for scheme in ("http", "https"):
        origin = origin_of(f"{scheme}://{request.host}")
        if origin:
            own.add(origin)
    return own


def origin_allowed(request: web.Request) -> bool:
    sent = request.headers.get("Origin")
    if sent is None:
        return True
    origin = origin_of(sent)  # "null" (a sandboxed frame, a file) is never one of ours
    if origin is None:
        return False
    return origin in own_origins(request) or origin in request.app[keys.CONFIG].allowed_origins


def check_ws_origin(request: web.Request) -> None:
    if not origin_allowed(request):
        raise Forbidden(
            "this page's origin may not open /ws: serve it from this server,"
            " or name it in PODIUM_ALLOWED_ORIGINS"
        )
