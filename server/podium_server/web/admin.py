"""Event administration over HTTP (organizer only): load the programme (TOML), revoke a
token or a badge, read the audit log page by page, print the badges (PDF)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from .. import appkeys as keys
from ..auth.badge_sheet import MissingFont, badges_pdf
from ..errors import BadRequest, NotFound, PayloadTooLarge, PodiumError, Unauthorized
from ..event.loaders import MAX_EVENT_BYTES, parse_event_toml
from ..store.bus import event_loaded
from ..store.records import AuditFilter, AuditRecord
from .auth import require
from .links import json_object

AUDIT_PAGE_DEFAULT = 50
AUDIT_PAGE_MAX = 200
_JTI_RE = re.compile(r"^[0-9a-f]{16}$")  # TokenSigner's ids: 8 random bytes, hex


async def load_programme(request: web.Request) -> web.Response:
    """`PUT /api/v1/event` with the event TOML: validated whole, then stored and used at
    once; a bad file changes nothing and lists every problem (with its line)."""
    claims = await require(request, "organizer")
    if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
        raise PayloadTooLarge("programme over 1 MB")
    raw = await request.read()
    if not raw.strip():
        raise BadRequest("empty body: send the programme TOML")
    event = parse_event_toml(raw, source="programme")  # InvalidFile: every problem listed
    store = request.app[keys.STORE]
    await store.save_event(event)
    request.app[keys.EVENT].event = event
    await request.app[keys.BUS].publish(event_loaded(event.id))  # others load it from the store
    await store.append_audit(
        AuditRecord(
            at=request.app[keys.CLOCK](),
            kind="event_load",
            actor=claims.jti,
            detail={"event": event.id, "sessions": len(event.sessions)},
        )
    )
    return web.json_response(
        {"event": event.id, "title": event.title, "sessions": len(event.sessions)}
    )


async def revoke(request: web.Request) -> web.Response:
    """`POST /api/v1/revocations` {token: <token or its id>} or {badge: <participant id>}.
    Takes effect on the next use; revoking twice is harmless."""
    claims = await require(request, "organizer")
    body = await json_object(request)
    token, badge = body.get("token"), body.get("badge")
    if (token is None) == (badge is None):
        raise BadRequest("send either token (a token or its id) or badge (a participant id)")
    store = request.app[keys.STORE]
    detail: dict[str, Any]
    if token is not None:
        kind, value = "token", _token_id(request.app, token)
        detail = {"what": kind, "value": value}
    else:
        if not isinstance(badge, str) or await store.get_participant(badge) is None:
            raise NotFound("no such participant")
        kind, value = "badge", badge
        detail = {"what": kind, "value": value, "participant": value}
    already = await store.is_revoked(kind, value)
    now = request.app[keys.CLOCK]()
    if not already:
        await store.revoke(kind, value, now)
        await store.append_audit(
            AuditRecord(at=now, kind="revoke", device="admin", actor=claims.jti, detail=detail)
        )
    return web.json_response({"revoked": kind, "value": value, "already": already})


def _token_id(app: web.Application, token: object) -> str:
    """The id of a token to revoke: from the token itself (signature checked, expiry not:
    a leaked expired token is worth revoking too) or given bare."""
    if not isinstance(token, str) or not token.strip():
        raise BadRequest("token must be a token or its 16-character id")
    token = token.strip()
    if _JTI_RE.match(token):
        return token
    try:
        return app[keys.TOKENS].verify(token, now=0).jti
    except Unauthorized as exc:
        raise BadRequest(f"not one of our tokens ({exc.message})") from exc


async def audit_log(request: web.Request) -> web.Response:
    """`GET /api/v1/audit?kind=&device=&participant=&before=&limit=`: newest first;
    `older` in the answer is the `before` of the next page (null: the log's start)."""
    await require(request, "organizer")
    q = request.query
    where = AuditFilter(
        kind=q.get("kind") or None,
        device=q.get("device") or None,
        participant=q.get("participant") or None,
    )
    before = _int_param(q.get("before"), "before", 0, None)
    limit = _int_param(q.get("limit"), "limit", 1, AUDIT_PAGE_MAX) or AUDIT_PAGE_DEFAULT
    page = await request.app[keys.STORE].audit_page(where, before=before, limit=limit)
    entries = [
        {
            "pos": pos,
            "at": r.at,
            "kind": r.kind,
            "device": r.device,
            "actor": r.actor,
            "detail": r.detail,
        }
        for pos, r in page.entries
    ]
    return web.json_response({"entries": entries, "older": page.older})


def _int_param(text: str | None, name: str, low: int, high: int | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number") from exc
    if value < low or (high is not None and value > high):
        raise BadRequest(f"{name} must be {low}..{high}" if high else f"{name} must be >= {low}")
    return value


async def badges_file(request: web.Request) -> web.Response:
    """`GET /api/v1/badges.pdf`: every participant's badge, eight to an A4 page."""
    await require(request, "organizer")
    event = request.app[keys.EVENT].require()
    people = await request.app[keys.STORE].list_participants()
    if not people:
        raise NotFound("no participants: import the roster first")
    signer = request.app[keys.BADGES]
    try:
        # Drawing 180 badges takes a while: off the event loop, scans go on meanwhile.
        body = await asyncio.to_thread(badges_pdf, people, signer, event.title)
    except MissingFont as exc:
        raise PodiumError(str(exc)) from exc
    return web.Response(
        body=body,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="badges.pdf"',
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    app.router.add_put("/api/v1/event", load_programme)
    app.router.add_post("/api/v1/revocations", revoke)
    app.router.add_get("/api/v1/audit", audit_log)
    app.router.add_get("/api/v1/badges.pdf", badges_file)
