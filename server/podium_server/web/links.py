"""Links an organizer hands out from /admin: staff scanner links (with a QR code to
open on a phone), speaker links (publish page, or WHIP URL + token for OBS), the list
of links issued, and `invitations.csv` (one personal watch link per trainee).

A link carries its token in the URL fragment (`#token=…`), never in a query string.
Tokens are not stored: each issue is an audit line (`link_issued`) naming the token's
id, so a link can be listed and revoked later without its token being kept anywhere.
"""

from __future__ import annotations

import re
from typing import Any

import segno
from aiohttp import web

from .. import appkeys as keys
from ..attendance import export
from ..auth.tokens import parse_ttl
from ..errors import BadRequest, NotFound
from ..store.records import AuditFilter, AuditRecord
from .auth import require

DEFAULT_TTL = "12h"
MAX_LINK_TTL_S = 7 * 86400  # a lost phone's link must not open the event for months
INVITATION_GRACE_S = 86400  # trainees' links last until a day after the event ends
LISTED_LINKS = 200
_DEVICE_RE = re.compile(r"^[\w][\w .:-]{0,47}$")
INVITATION_HEADER = ("id", "name", "email", "organization", "province", "mode", "watch_url")


def public_base(request: web.Request) -> str:
    """The origin links point to: PODIUM_PUBLIC_URL when set, else the address the
    organizer reached this server at (a phone must open it, so not 127.0.0.1 when the
    organizer came over the LAN)."""
    config = request.app[keys.CONFIG]
    if config.public_url:
        return config.base_url
    return str(request.url.origin())


def qr_svg(text: str) -> str:
    """A QR code as SVG markup, drawn here (no browser library): dark on a white quiet
    zone, sized by its viewBox so the page's CSS sets its size."""
    return str(
        segno.make(text, error="m").svg_inline(
            scale=1, border=4, dark="#000", light="#fff", omitsize=True
        )
    )


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise BadRequest("send a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object")
    return body


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value.strip() or None


async def issue_link(request: web.Request) -> web.Response:
    """`POST /api/v1/links` {role: staff|speaker, session?, device?, ttl?}."""
    claims = await require(request, "organizer")
    body = await json_object(request)
    role = body.get("role")
    if role not in ("staff", "speaker"):
        raise BadRequest("role must be staff or speaker (trainees: invitations.csv)")
    session_id = _optional_text(body, "session")
    device = _optional_text(body, "device")
    try:
        ttl_s = parse_ttl(_optional_text(body, "ttl") or DEFAULT_TTL)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if ttl_s > MAX_LINK_TTL_S:
        raise BadRequest("ttl is at most 7d")
    event = request.app[keys.EVENT].require()
    if role == "speaker" and session_id is None:
        raise BadRequest("a speaker link is for one session: choose it")
    if session_id is not None and event.session(session_id) is None:
        raise NotFound(f"no session {session_id!r}")
    if role == "staff" and device is None:
        raise BadRequest("name the device (e.g. door-A-1): the audit log shows it")
    if device is not None and not _DEVICE_RE.match(device):
        raise BadRequest("device: letters, digits, space, . : _ - (at most 48)")

    now = request.app[keys.CLOCK]()
    token = request.app[keys.TOKENS].issue(
        role, now=now, ttl_s=ttl_s, session=session_id, device=device
    )
    issued = request.app[keys.TOKENS].verify(token, now=now)
    base = public_base(request)
    link: dict[str, Any] = {
        "role": role,
        "session": session_id,
        "device": device,
        "jti": issued.jti,
        "exp": issued.exp,
        "token": token,
    }
    if role == "staff":
        link["url"] = f"{base}/scan#token={token}"
    else:
        assert session_id is not None
        link["url"] = f"{base}/publish/{session_id}#token={token}"
        link["whip_url"] = f"{base}/whip/{session_id}"
    link["qr_svg"] = qr_svg(link["url"])
    await request.app[keys.STORE].append_audit(
        AuditRecord(
            at=now,
            kind="link_issued",
            device=device or "",
            actor=claims.jti,
            detail={"role": role, "session": session_id, "jti": issued.jti, "exp": issued.exp},
        )
    )
    return web.json_response(link, headers={"Cache-Control": "no-store"})


async def list_links(request: web.Request) -> web.Response:
    """The links issued lately (newest first), each with whether it is revoked."""
    await require(request, "organizer")
    store = request.app[keys.STORE]
    page = await store.audit_page(AuditFilter(kind="link_issued"), limit=LISTED_LINKS)
    revoked = await store.revoked_values("token")
    links = [
        {
            "jti": record.detail.get("jti"),
            "role": record.detail.get("role"),
            "session": record.detail.get("session"),
            "device": record.device,
            "issued_at": record.at,
            "exp": record.detail.get("exp"),
            "revoked": record.detail.get("jti") in revoked,
        }
        for _, record in page.entries
    ]
    return web.json_response({"links": links})


async def invitations_csv(request: web.Request) -> web.Response:
    """One row per participant with a personal watch link, for a mail merge. Each
    download mints fresh tokens (earlier ones stay valid until revoked or expired)."""
    claims = await require(request, "organizer")
    event = request.app[keys.EVENT].require()
    store = request.app[keys.STORE]
    people = await store.list_participants()
    if not people:
        raise NotFound("no participants: import the roster first")
    now = request.app[keys.CLOCK]()
    last_end = max(s.end_ts for s in event.sessions)
    ttl_s = max(3600, int(last_end + INVITATION_GRACE_S - now))
    tokens = request.app[keys.TOKENS]
    base = public_base(request)
    rows = []
    for p in people:
        token = tokens.issue("trainee", now=now, ttl_s=ttl_s, participant=p.id)
        rows.append(
            (p.id, p.name, p.email, p.organization, p.province, p.mode, f"{base}/#token={token}")
        )
    await store.append_audit(
        AuditRecord(
            at=now,
            kind="invitations_issued",
            actor=claims.jti,
            detail={"count": len(rows), "exp": int(now) + ttl_s},
        )
    )
    return web.Response(
        body=export.to_csv(INVITATION_HEADER, rows),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="invitations.csv"',
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/links", issue_link)
    app.router.add_get("/api/v1/links", list_links)
    app.router.add_get("/api/v1/invitations.csv", invitations_csv)
