"""Bearer-token authentication shared by HTTP handlers and the WebSocket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from .. import appkeys as keys
from ..auth.tokens import Claims
from ..errors import Forbidden, Unauthorized
from ..store.records import AuditRecord
from ..store.revoked import RevokedIds
from ..store.roles import Revocations
from .rate_limit import client_address
from .refusals import REFUSALS

log = logging.getLogger(__name__)


async def authenticate_token(
    app: web.Application,
    token: object,
    *,
    device: str = "",
    roles: tuple[str, ...] = (),
    address: str | None = None,
) -> Claims:
    """Verify signature and expiry, then revocation (on every use), then the role, and
    audit the use. Refusals are audited too, coalesced (see refusals.RefusalLog): a
    token refused again and again adds a count, not a row each time."""
    now = app[keys.CLOCK]()
    try:
        claims = app[keys.TOKENS].verify(token, now=now)
    except Unauthorized as err:
        if address is not None and token:  # a token was shown, and it is no good
            await app[REFUSALS].refused_request(address, err.message)
        raise
    store = app[keys.STORE]
    if await store.is_revoked("token", claims.jti):
        await app[REFUSALS].record(refused_use(claims, now, device))
        raise Unauthorized("revoked token")
    if roles and claims.role not in roles:
        await app[REFUSALS].record(refused_use(claims, now, device, reason="forbidden"))
        raise Forbidden(f"this needs the role {' or '.join(roles)}")
    await store.append_audit(
        AuditRecord(
            at=now,
            kind="token_use",
            device=device or (claims.device or ""),
            actor=claims.jti,
            detail={"role": claims.role},
        )
    )
    return claims


def refused_use(
    claims: Claims, at: float, device: str = "", reason: str = "revoked"
) -> AuditRecord:
    """The audit line of a refused use of a genuine token (revoked, or a role that may
    not do this): kept, who tried and where."""
    return AuditRecord(
        at=at,
        kind="token_refused",
        device=device or (claims.device or ""),
        actor=claims.jti,
        detail={"role": claims.role, "reason": reason},
    )


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return header[7:].strip()


async def require(request: web.Request, *roles: str) -> Claims:
    return await authenticate_token(
        request.app, bearer(request), roles=roles, address=client_address(request)
    )


class RevokedTokens:
    """Reads the node's copy of the revoked token ids (`RevokedIds`, the same copy the
    stores keep of revoked badges) for the re-checks of open WebSockets.

    One read of the whole set at most every `fresh_s`, shared by every connection, not a
    store query per connection: sockets opened together re-check together, and 64 door
    scanners' queries at once held each one's scans behind its round trip, every second.
    A connection asking while a read runs waits for that read. A read that fails keeps
    the last set (see `RevokedIds.read_failed`)."""

    def __init__(self, store: Revocations, clock: Callable[[], float], fresh_s: float) -> None:
        self.store = store
        self.clock = clock
        self.ids = RevokedIds(fresh_s)
        self._reading: asyncio.Task[None] | None = None

    async def contains(self, jti: str) -> bool:
        if self.ids.due(self.clock()):
            if self._reading is None:
                self._reading = asyncio.create_task(self._read())
            # shielded: a connection closing mid-wait must not cancel the others' read
            await asyncio.shield(self._reading)
        return jti in self.ids

    def known(self, jti: str) -> bool:
        """Whether the last set read holds it, without reading again."""
        return jti in self.ids

    async def _read(self) -> None:
        started = self.clock()  # fresh from when the read began, not when it ended
        generation = self.ids.generation()
        try:
            self.ids.read(await self.store.revoked_values("token"), started, generation)
        except Exception:
            log.warning("could not read the revoked tokens; kept the last set", exc_info=True)
            self.ids.read_failed(started)
        finally:
            self._reading = None
