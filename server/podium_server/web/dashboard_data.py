"""What /dashboard shows beside the live counts (organizer only): who registered, by
province and organization type, with the event's headline figures; and each trainee's
first arrival in a session (in the room or online), for the arrivals chart."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from aiohttp import web

from .. import appkeys as keys
from ..attendance.reports import statistics
from ..errors import NotFound
from ..event.model import ORG_TYPES
from ..store.roles import AttendanceStore
from .auth import require

# Every open dashboard asks for its session's arrivals after changes (at most every 3 s
# each), and the answer reads every door scan recorded: one reading serves them all this long.
ARRIVALS_FRESH_S = 2.0
ARRIVALS_CACHE: web.AppKey[dict[str, tuple[float, list[dict[str, Any]]]]] = web.AppKey(
    "arrivals_cache"
)


async def roster_summary(request: web.Request) -> web.Response:
    """`GET /api/v1/roster/summary`: registered trainees by province and org type, and the
    figures a report of the event leads with (count, provinces, shares by org type).
    Counts only: no names, e-mail addresses or badge codes reach a projector."""
    await require(request, "organizer")
    people = await request.app[keys.STORE].list_participants()
    stats = statistics(request.app[keys.EVENT].event, people).to_json()
    provinces = Counter(p.province.strip() or "unknown" for p in people)
    org_types = Counter(p.org_type for p in people)
    modes = Counter(p.mode for p in people)
    return web.json_response(
        {
            "count": stats["count"],
            "provinces": stats["provinces"],
            "shares_pct": stats["shares_pct"],
            "government_pct": stats["government_pct"],
            "universities_and_research_pct": stats["universities_and_research_pct"],
            "by_province": dict(sorted(provinces.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_org_type": {t: org_types.get(t, 0) for t in ORG_TYPES},
            "by_mode": dict(sorted(modes.items())),
        }
    )


async def session_arrivals(request: web.Request) -> web.Response:
    """`GET /api/v1/sessions/{id}/arrivals`: when each trainee was first present, once
    (the earlier of their first accepted door scan in and their first online interval),
    oldest first, with how they came."""
    await require(request, "organizer")
    session_id = request.match_info["id"]
    event = request.app[keys.EVENT].require()
    session = event.session(session_id)
    if session is None:
        raise NotFound("no such session")
    cache = request.app[ARRIVALS_CACHE]
    read_at, arrivals = cache.get(session_id, (-math.inf, []))
    if time.monotonic() - read_at >= ARRIVALS_FRESH_S:
        read_at = time.monotonic()
        arrivals = await _first_arrivals(request.app[keys.STORE], session_id)
        cache[session_id] = (read_at, arrivals)
    return web.json_response(
        {
            "session": session_id,
            "start": session.start_ts,
            "end": session.end_ts,
            "server_time": request.app[keys.CLOCK](),
            "arrivals": arrivals,
        }
    )


async def _first_arrivals(store: AttendanceStore, session_id: str) -> list[dict[str, Any]]:
    first: dict[str, tuple[float, str]] = {}

    def seen(participant: str, at: float, how: str) -> None:
        if participant not in first or at < first[participant][0]:
            first[participant] = (at, how)

    for scan in await store.list_scans():
        # annulled scans stay recorded, flagged: they never count as arrivals
        if scan.session_id == session_id and scan.direction == "in" and not scan.annulled:
            seen(scan.participant_id, scan.at, "room")
    for watch in await store.list_watches():
        if watch.session_id == session_id and watch.end > watch.start:
            seen(watch.participant_id, watch.start, "online")
    return [{"at": at, "how": how} for at, how in sorted(first.values())]


def setup(app: web.Application) -> None:
    app[ARRIVALS_CACHE] = {}
    app.router.add_get("/api/v1/roster/summary", roster_summary)
    app.router.add_get("/api/v1/sessions/{id}/arrivals", session_arrivals)
