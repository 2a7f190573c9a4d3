"""HTTP request limits per client address and per token: 429 with `Retry-After`.

Token buckets, one per address and one per bearer token, for the routes that do work
(the API, WHIP/WHEP, `/verify`); pages, static files and health
checks are not counted (a room behind one NAT address loads them all at once). A
request must find room in both of its buckets.

The per-address bucket is wide because many people may share an address (a venue's
Wi-Fi, a reverse proxy: behind one, every request comes from the proxy's address, so
the proxy should limit per client itself). The per-token bucket is what holds back one
client: a person clicking never comes near it, a script looping does.

Buckets live in a bounded table (least recently used dropped first): a client
cycling through made-up tokens costs a bounded amount of memory, and its address bucket
still holds it back.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from .. import appkeys as keys
from ..errors import RateLimited
from .refusals import REFUSALS

# /ws is not here: a socket is a connection, held back by the per-address connection
# cap and its own message limits, and a door's reconnects must never meet a 429.
LIMITED_PREFIXES = ("/api/", "/whip/", "/whep/", "/verify/")


@dataclass(frozen=True)
class RateLimits:
    address_per_s: float = 50.0
    address_burst: float = 600.0
    token_per_s: float = 5.0
    token_burst: float = 60.0
    max_tracked: int = 20_000  # buckets kept (addresses and tokens together)


class _Bucket:
    __slots__ = ("level", "at")

    def __init__(self, level: float, at: float) -> None:
        self.level = level
        self.at = at


class BucketTable:
    """Token buckets by key; `take` answers 0 (allowed) or the seconds to wait."""

    def __init__(self, max_tracked: int) -> None:
        self.max_tracked = max_tracked
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait_s(self, key: str, now: float, per_s: float, burst: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(burst, now)
            while len(self._buckets) > self.max_tracked:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.level = min(burst, bucket.level + max(0.0, now - bucket.at) * per_s)
            bucket.at = max(bucket.at, now)
        if bucket.level >= 1.0:
            bucket.level -= 1.0
            return 0.0
        return (1.0 - bucket.level) / per_s

    def __len__(self) -> int:
        return len(self._buckets)


class HttpRateLimiter:
    """Owns the buckets of HTTP requests per client address and per token."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self.table = BucketTable(limits.max_tracked)

    def wait_s(self, address: str, token: str | None) -> float:
        """Seconds until this request would be allowed; 0: allowed now (and counted)."""
        now = self.clock()
        lim = self.limits
        wait = self.table.wait_s(f"a:{address}", now, lim.address_per_s, lim.address_burst)
        if token is not None and wait == 0.0:
            # keyed by a digest: the table never holds the bearer tokens themselves
            key = "t:" + hashlib.blake2b(token.encode(), digest_size=16).hexdigest()
            wait = self.table.wait_s(key, now, lim.token_per_s, lim.token_burst)
        return wait


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
TRUSTED_PROXIES: web.AppKey[tuple[IPNetwork, ...]] = web.AppKey("trusted_proxies")
HTTP_RATE_LIMITER = web.AppKey("http_rate_limiter", HttpRateLimiter)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_or_none(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return (header[7:].strip() or None) if header.startswith("Bearer ") else None


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the
    last address in X-Forwarded-For that is not a trusted proxy (entries further left
    were written by the client and prove nothing)."""
    peer = request.remote or "unknown"
    trusted = request.app[TRUSTED_PROXIES]
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(LIMITED_PREFIXES):
        return await handler(request)
    limiter = request.app[HTTP_RATE_LIMITER]
    address = client_address(request)
    wait = limiter.wait_s(address, bearer_or_none(request))
    if wait <= 0.0:
        return await handler(request)
    refusals = request.app.get(REFUSALS)
    if refusals is not None:
        await refusals.refused_request(address, "rate_limited")
    retry_after = max(1, math.ceil(wait))
    err = RateLimited("too many requests: slow down", retry_after_s=retry_after)
    return web.json_response(
        err.to_json(), status=err.status, headers={"Retry-After": str(retry_after)}
    )


async def _start_limiter(app: web.Application) -> None:
    # at start-up: a test (or an embedding program) may set RATE_LIMITS before that
    app[HTTP_RATE_LIMITER] = HttpRateLimiter(app.get(RATE_LIMITS, RateLimits()), time.monotonic)


def setup(app: web.Application) -> None:
    app[TRUSTED_PROXIES] = tuple(
        ipaddress.ip_network(p, strict=False) for p in app[keys.CONFIG].trusted_proxies
    )
    app.on_startup.append(_start_limiter)
