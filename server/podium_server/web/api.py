"""JSON API: programme, participants, roster import."""

from __future__ import annotations

from aiohttp import web

from .. import appkeys as keys
from ..errors import BadRequest, NotFound, PayloadTooLarge
from ..event.loaders import parse_roster_csv
from ..store.bus import ROSTER_CHANGED
from ..store.records import AuditRecord
from .auth import require

MAX_ROSTER_BYTES = 4 * 1024 * 1024


async def get_event(request: web.Request) -> web.Response:
    event = request.app[keys.EVENT].require()
    return web.json_response(event.to_json())


async def list_participants(request: web.Request) -> web.Response:
    await require(request, "organizer")
    badges = request.app[keys.BADGES]
    participants = await request.app[keys.STORE].list_participants()
    return web.json_response(
        {
            "participants": [
                p.to_json() | {"badge_code": badges.code_for(p.id)} for p in participants
            ]
        }
    )


async def get_participant(request: web.Request) -> web.Response:
    await require(request, "organizer")
    participant = await request.app[keys.STORE].get_participant(request.match_info["id"])
    if participant is None:
        raise NotFound("no such participant")
    code = request.app[keys.BADGES].code_for(participant.id)
    return web.json_response(participant.to_json() | {"badge_code": code})


async def import_roster(request: web.Request) -> web.Response:
    claims = await require(request, "organizer")
    raw = await read_capped(request, MAX_ROSTER_BYTES, "roster")
    if not raw:
        raise BadRequest("empty body: send the roster CSV")
    participants = parse_roster_csv(raw)  # raises InvalidFile listing every bad line
    store = request.app[keys.STORE]
    added, updated = await store.upsert_participants(participants)
    await request.app[keys.BUS].publish(ROSTER_CHANGED)  # nodes drop their cached roster
    await store.append_audit(
        AuditRecord(
            at=request.app[keys.CLOCK](),
            kind="roster_import",
            actor=claims.jti,
            detail={"added": added, "updated": updated},
        )
    )
    return web.json_response({"added": added, "updated": updated, "total": len(participants)})


async def read_capped(request: web.Request, limit: int, what: str) -> bytes:
    """The body, refused (413) past `limit` bytes whether it says its length or is sent
    chunked: reading stops at the first byte over, nothing more is buffered."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"{what} over {limit} bytes")
    body = bytearray()
    while chunk := await request.content.read(min(64 * 1024, limit + 1 - len(body))):
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"{what} over {limit} bytes")
    return bytes(body)


async def badge_key(request: web.Request) -> web.Response:
    """The badge public key: scanners verify badges offline with it."""
    raw = request.app[keys.BADGES].public_bytes
    return web.json_response({"alg": "Ed25519", "public_key_hex": raw.hex()})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/event", get_event)
    app.router.add_get("/api/v1/participants", list_participants)
    app.router.add_get("/api/v1/participants/{id}", get_participant)
    app.router.add_post("/api/v1/roster", import_roster)
    app.router.add_get("/api/v1/badge-key", badge_key)
    # The organizer pages' endpoints: /admin (links and invitations, programme,
    # revocation, audit, badges) and /dashboard (roster summary, arrivals).
    from . import admin, dashboard_data, links

    links.setup(app)
    admin.setup(app)
    dashboard_data.setup(app)
