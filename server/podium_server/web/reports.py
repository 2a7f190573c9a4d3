"""Reports over HTTP: attendance and certificates (CSV/XLSX), per-session attendance
(JSON), and the public certificate check `/verify/{id}`."""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from .. import appkeys as keys
from ..attendance import export
from ..attendance.eligibility import minutes
from ..attendance.reports import (
    ATTENDANCE_HEADER,
    CERTIFICATE_HEADER,
    attendance_rows,
    certificate_rows,
    statistics,
)
from ..attendance_service import AttendanceService
from ..errors import Forbidden, NotFound
from .auth import require

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATS_HEADER = ("statistic", "value")


async def build_report(
    service: AttendanceService, kind: str, fmt: str, base_url: str
) -> tuple[bytes, str]:
    """The report file's bytes and content type. Shared with `podium report`."""
    event, people, table = await service.reports.report()
    stats = statistics(event, people, table)
    header: tuple[str, ...]
    if kind == "attendance":
        header, rows = ATTENDANCE_HEADER, attendance_rows(event, people, table)
    elif kind == "statistics":  # what an organizer publishes afterwards, as a file
        header, rows = STATS_HEADER, stats.rows()
    elif kind == "certificates":
        header = CERTIFICATE_HEADER
        rows = certificate_rows(
            event,
            people,
            table,
            service.certificates.issue,
            lambda cert: f"{base_url}/verify/{cert}",
        )
    else:
        raise NotFound(f"no report {kind!r}")
    if fmt == "csv":
        return export.to_csv(header, rows), "text/csv; charset=utf-8"
    if fmt == "xlsx":
        sheets = [(kind.title(), header, rows)]
        if kind != "statistics":
            sheets.append(("Statistics", STATS_HEADER, stats.rows()))
        return export.to_xlsx(sheets), XLSX
    raise NotFound(f"no format {fmt!r}")


async def report_file(request: web.Request) -> web.Response:
    await require(request, "organizer")
    kind, fmt = request.match_info["kind"], request.match_info["fmt"]
    body, content_type = await build_report(
        request.app[keys.ATTENDANCE], kind, fmt, request.app[keys.CONFIG].base_url
    )
    return web.Response(
        body=body,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{kind}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


async def statistics_json(request: web.Request) -> web.Response:
    await require(request, "organizer")
    event, people, table = await request.app[keys.ATTENDANCE].reports.report()
    return web.json_response(statistics(event, people, table).to_json())


async def session_attendance(request: web.Request) -> web.Response:
    """Live per-session picture plus per-trainee minutes (organizer; staff of that session)."""
    claims = await require(request, "organizer", "staff")
    session_id = request.match_info["id"]
    if claims.role == "staff" and not claims.may_scan(session_id):
        raise Forbidden("this token is for another session")
    service = request.app[keys.ATTENDANCE]
    event = request.app[keys.EVENT].require()
    session = event.session(session_id)
    if session is None:
        raise NotFound("no such session")
    now = request.app[keys.CLOCK]()
    _, people, table = await service.reports.report(now=now)
    counts = await service.feed.counts(session_id)
    trainees: list[dict[str, Any]] = []
    for p in people:
        a = table[p.id][session_id]
        trainees.append(
            {
                "participant": p.id,
                "name": p.name,
                "province": p.province,
                "org_type": p.org_type,
                "room_min": minutes(a.room_s),
                "online_min": minutes(a.online_s),
                "total_min": minutes(a.total_s),
                # Seconds as well: a live view shows progress before a whole minute.
                "room_s": round(a.room_s, 1),
                "online_s": round(a.online_s, 1),
                "total_s": round(a.total_s, 1),
                "status": a.status,
            }
        )
    return web.json_response(
        {"session": session.to_json(), "server_time": now, **counts, "trainees": trainees}
    )


async def verify(request: web.Request) -> web.Response:
    """Public: is this certificate genuine and still backed by the attendance recorded?"""
    result = await request.app[keys.ATTENDANCE].reports.verify_certificate(
        request.match_info["certificate_id"]
    )
    status = 200 if result["valid"] else NotFound.status  # an answer, not an error body
    if "text/html" in request.headers.get("Accept", ""):
        return web.Response(text=_verify_page(result), content_type="text/html", status=status)
    return web.json_response(result, status=status)


def _verify_page(result: dict[str, Any]) -> str:
    if result["valid"]:
        person, event = result["participant"], result["event"]
        body = (
            f"<h1>Valid certificate</h1><p><b>{html.escape(person['name'])}</b>"
            f" ({html.escape(person['organization'])}) completed"
            f" <b>{html.escape(event['title'])}</b>.</p>"
        )
    else:
        body = f"<h1>Not a valid certificate</h1><p>{html.escape(result['reason'])}</p>"
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>Certificate check</title>'
        f"<body>{body}</body></html>"
    )


def setup(app: web.Application) -> None:
    app.router.add_get(
        r"/api/v1/reports/{kind:attendance|certificates|statistics}.{fmt:csv|xlsx}", report_file
    )
    app.router.add_get("/api/v1/reports/statistics", statistics_json)
    app.router.add_get("/api/v1/sessions/{id}/attendance", session_attendance)
    app.router.add_get("/verify/{certificate_id}", verify)
