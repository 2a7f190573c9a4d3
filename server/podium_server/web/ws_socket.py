"""The server side of one `/ws` socket: aiohttp's, with two changes.

1. Its heartbeat is kept off a closed socket. aiohttp (3.13 and later) re-arms the
   heartbeat timer whenever bytes arrive, through a callback the request handler keeps
   calling for as long as the transport is open. When the server closes first (a refused
   hello, a forged token, the hello deadline) it waits for the client's close frame;
   that frame arrives *after* the socket was marked closed, re-arms a fresh timer, and
   nothing cancels it again. The timer holds the response, which holds its request
   handler, transport, reader and buffers: about 100 KB per refused connection kept for
   the 30 s heartbeat plus the 15 s pong wait (and for as long as the process GC policy
   kept them frozen). Measured before: 1,000 refused connections left 1,000
   `WebSocketResponse` objects reachable after a full collection.

2. Compression is chosen per frame. With permessage-deflate negotiated, aiohttp
   compresses every frame through one compressor per socket that lives as long as the
   socket: ~150 KB of zlib state for a scanner whose frames are 100-byte scan results,
   which deflate does not shrink. Here frames are sent plain unless their type may be
   large (COMPRESSIBLE) and this one is (COMPRESS_FROM_BYTES); those get a compressor of
   their own, freed with the frame, so an idle socket holds none. Plain frames on a
   deflate connection are allowed (RFC 7692 7.2.3.1: a message is compressed or not).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

# Message types that can be kilobytes of repetitive JSON: the event in a welcome, a
# dashboard's counts by province and recent scans, a sync's results, search hits.
COMPRESSIBLE = frozenset({"welcome", "snapshot", "update", "sync.result", "search.result"})
# Below this a frame gains little from deflate (and a scan result is ~120 bytes).
COMPRESS_FROM_BYTES = 1024


class PodiumWebSocket(web.WebSocketResponse):
    """A `WebSocketResponse` with no heartbeat once closed, and plain frames by default."""

    negotiated_wbits = 0  # the deflate window agreed with the client; 0: no deflate

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter:
        stream = await super().prepare(request)
        self.negotiated_wbits = int(self.compress)
        if self._writer is not None:
            self._writer.compress = 0  # plain unless a frame asks (see compression_for)
        return stream

    def compression_for(self, kind: str, size: int) -> int | None:
        """The `compress` argument for sending a frame of this type and size: the
        negotiated window for a large frame of a compressible type, else None (plain)."""
        if self.negotiated_wbits and kind in COMPRESSIBLE and size >= COMPRESS_FROM_BYTES:
            return self.negotiated_wbits
        return None

    def _reset_heartbeat(self) -> None:
        # A closed socket needs no liveness check; a timer armed now would outlive it.
        if self.closed:
            return
        super()._reset_heartbeat()
