"""What the watch and publish pages show from the server, each to its own reader only.

- `GET /api/v1/sessions/{id}/attendance/me` (trainee): the caller's own attended time in
  that session, as the reports count it (door scans and server-measured watching).
- `GET /api/v1/sessions/{id}/viewers` (the session's speaker, or an organizer): whether
  a publisher is live and how many WHEP viewers the relay is serving now.

Neither says anything about another trainee.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from .. import appkeys as keys
from ..attendance.eligibility import minutes, session_attendance
from ..attendance.records import WatchInterval
from ..errors import Forbidden, NotFound
from ..event.model import Event, Session
from ..store.roles import AttendanceStore
from .auth import require
from .media import MEDIA

# Every watch page asks about once a minute: one read of the watch intervals serves all
# of them for this long, so 180 trainees cost one query every few seconds, not 180.
WATCHES_FRESH_S = 5.0


class WatchesReader:
    """The store's watch intervals, read at most once per WATCHES_FRESH_S (one read in
    flight shared by every caller)."""

    def __init__(self, store: AttendanceStore) -> None:
        self.store = store
        self._read_at = float("-inf")
        self._pending: asyncio.Future[list[WatchInterval]] | None = None

    async def get(self, now: float) -> list[WatchInterval]:
        if self._pending is None or now - self._read_at >= WATCHES_FRESH_S:
            self._read_at = now
            self._pending = asyncio.ensure_future(self.store.list_watches())
        try:
            return await asyncio.shield(self._pending)
        except Exception:
            self._pending = None  # the next caller reads again
            raise


WATCHES_READER = web.AppKey("watches_reader", WatchesReader)


def _session(app: web.Application, session_id: str) -> tuple[Event, Session]:
    event = app[keys.EVENT].require()
    session = event.session(session_id)
    if session is None:
        raise NotFound("no such session")
    return event, session


async def own_attendance(request: web.Request) -> web.Response:
    claims = await require(request, "trainee")
    session_id = request.match_info["id"]
    event, session = _session(request.app, session_id)
    if not claims.may_watch(session_id):
        raise Forbidden("this token is for another session")
    participant = claims.participant
    assert participant is not None  # a trainee token always names one
    now = request.app[keys.CLOCK]()
    store = request.app[keys.STORE]
    looked = await store.lookup((), [(session_id, participant)], ())
    pair = looked.pairs.get((session_id, participant))
    scans = pair.scans if pair is not None else ()
    watches = [
        w
        for w in await request.app[WATCHES_READER].get(now)
        if w.session_id == session_id and w.participant_id == participant
    ]
    a = session_attendance(
        session, participant, scans, watches, event.certificate.min_fraction, now
    )
    body: dict[str, Any] = {
        "session": session_id,
        "participant": participant,
        "room_s": round(a.room_s, 1),
        "online_s": round(a.online_s, 1),
        "total_s": round(a.total_s, 1),
        "total_min": minutes(a.total_s),
        "duration_s": round(a.duration_s, 1),
        "needed_s": round(event.certificate.min_fraction * a.duration_s, 1),
        "status": a.status,
        "server_time": now,
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def viewers(request: web.Request) -> web.Response:
    claims = await require(request, "speaker", "organizer")
    session_id = request.match_info["id"]
    _session(request.app, session_id)
    if not claims.may_publish(session_id):
        raise Forbidden("this token is for another session")
    media = request.app[MEDIA]
    relay = media.relays.get(session_id)
    publisher = media.publishers.get(relay.publisher_id or "") if relay is not None else None
    body = {
        "session": session_id,
        "publishing": publisher is not None and publisher.live,
        "viewers": len(relay.viewers) if relay is not None else 0,
        "server_time": request.app[keys.CLOCK](),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def _reader_ctx(app: web.Application) -> AsyncIterator[None]:
    app[WATCHES_READER] = WatchesReader(app[keys.STORE])  # the store is open by now
    yield


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_reader_ctx)
    app.router.add_get("/api/v1/sessions/{id}/attendance/me", own_attendance)
    app.router.add_get("/api/v1/sessions/{id}/viewers", viewers)
