"""Bearer-token authentication shared by HTTP handlers and the WebSocket."""

from __future__ import annotations

from aiohttp import web

from .. import appkeys as keys
from ..auth.tokens import Claims
from ..errors import Forbidden, Unauthorized
from ..store.base import AuditRecord


async def authenticate_token(app: web.Application, token: object, *, device: str = "") -> Claims:
    """Verify signature and expiry, then revocation (on every use), and audit the use."""
    now = app[keys.CLOCK]()
    claims = app[keys.TOKENS].verify(token, now=now)
    store = app[keys.STORE]
    if await store.is_revoked("token", claims.jti):
        raise Unauthorized("revoked token")
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


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return header[7:].strip()


async def require(request: web.Request, *roles: str) -> Claims:
    claims = await authenticate_token(request.app, bearer(request))
    if roles and claims.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}")
    return claims
