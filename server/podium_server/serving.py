"""Serving the app on a TCP port, with limits on what one connection may hold.

- A connection must complete its request headers within HEADER_TIMEOUT_S of opening
  (and an idle keep-alive one is closed that long after its last response): without
  this a client that sends nothing, or headers a byte at a time, keeps its socket for
  an hour, and a few hundred of them use up the process's file descriptors.
- At most `max_connections_per_address` connections per client address (0: no cap);
  past it a new one is answered 503 and closed at once. Not for loopback: behind a
  reverse proxy on the same host every client arrives from the proxy's address, so the
  cap belongs in the proxy then (nginx: `limit_conn`).

Each connection costs one file descriptor; `docs/metrics.md` says what limit to set.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from . import gcpolicy
from .config import Config

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 5.0
UNCAPPED_ADDRESSES = frozenset({"127.0.0.1", "::1"})
_REFUSAL_BODY = b"too many connections from one address\n"
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_REFUSAL_BODY), _REFUSAL_BODY)
)


class ConnectionGuard:
    """Counts open connections per client address and refuses those past the cap.

    Installed on aiohttp's `web.Server` (which every connection reports to when it
    opens and closes); it also tells the GC policy each time one closes."""

    def __init__(self, max_per_address: int, uncapped: frozenset[str] = frozenset()) -> None:
        self.max_per_address = max_per_address
        self.uncapped = uncapped
        self.open: Counter[str] = Counter()
        self.counted: dict[RequestHandler, str] = {}
        self.refused = 0

    def install(self, server: web.Server) -> None:
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            self.opened(handler, transport)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            lost(handler, exc)
            self.closed(handler)

        # web.Server has no hook for this; its two public methods are wrapped instead.
        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def opened(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        peer: Any = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        capped = self.max_per_address and address not in self.uncapped
        if capped and self.open[address] >= self.max_per_address:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning(
                    "connection refused: too many from one address",
                    extra={
                        "address": address,
                        "cap": self.max_per_address,
                        "refused": self.refused,
                    },
                )
            transport.write(_REFUSAL)
            transport.close()
            return
        self.open[address] += 1
        self.counted[handler] = address

    def closed(self, handler: RequestHandler) -> None:
        address = self.counted.pop(handler, None)
        if address is not None:
            self.open[address] -= 1
            if not self.open[address]:
                del self.open[address]
        gcpolicy.connection_closed()  # what it leaves is garbage in reference cycles


GUARD = web.AppKey("connection_guard", ConnectionGuard)


async def setup(app: web.Application, config: Config) -> web.AppRunner:
    """Start the app (its startup and cleanup contexts) with the connection limits."""
    app[GUARD] = guard = ConnectionGuard(config.max_connections_per_address, UNCAPPED_ADDRESSES)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, keepalive_timeout=HEADER_TIMEOUT_S
    )
    await runner.setup()
    assert runner.server is not None
    guard.install(runner.server)
    return runner


async def listen(runner: web.AppRunner, config: Config) -> int:
    """Listen on config.host:port; the port bound (config.port 0: a free one)."""
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    if config.port == 0 and runner.addresses:
        return int(runner.addresses[0][1])
    return config.port
