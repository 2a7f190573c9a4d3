"""What stands between the network and the handlers, installed in one call: browser
security headers, the HTTP request limits, the coalesced audit of refusals, and the
`/ws` Origin check. See docs/security.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from . import rate_limit, refusals, security_headers
from .origins import check_ws_origin

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def ws_origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 before the upgrade for a page from another site (see origins.py)."""
    if request.path == "/ws":
        check_ws_origin(request)
    return await handler(request)


def setup(app: web.Application) -> None:
    """Call before the app starts, after the store's cleanup context is added; the
    middlewares run inside the error middleware (their refusals become JSON errors)."""
    refusals.setup(app)
    rate_limit.setup(app)
    security_headers.setup(app)
    app.middlewares.append(rate_limit.rate_limit_middleware)
    app.middlewares.append(ws_origin_middleware)
