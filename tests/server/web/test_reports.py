"""Reports over HTTP and the CLI, certificates and /verify, on a real app and store."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from podium_server import appkeys as keys
from podium_server.cli import main
from podium_server.event.model import Event, Participant, Session
from web_client import MakeClient, bearer


async def test_demo_statistics_are_the_published_figures(make_client: MakeClient) -> None:
    client = await make_client(demo=True, event=None)
    res = await client.get("/api/v1/reports/statistics", headers=bearer(client))
    stats = await res.json()
    assert (stats["count"], stats["provinces"]) == (180, 18)
    assert stats["government_pct"] == 42 and stats["universities_and_research_pct"] == 24
    xlsx = await client.get("/api/v1/reports/attendance.xlsx", headers=bearer(client))
    assert xlsx.status == 200
    wb = load_workbook(io.BytesIO(await xlsx.read()))
    assert wb.sheetnames == ["Attendance", "Statistics"]
    figures = {row[0]: row[1] for row in wb["Statistics"].iter_rows(min_row=2, values_only=True)}
    assert figures["trainees"] == 180 and figures["provinces"] == 18
    assert figures["government departments %"] == 42
    assert figures["universities and research institutes %"] == 24
    # the same figures as a CSV file of their own (the attendance CSV is one table)
    res = await client.get("/api/v1/reports/statistics.csv", headers=bearer(client))
    assert res.status == 200 and res.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO((await res.read()).decode("utf-8-sig"))))
    assert rows[0] == ["statistic", "value"]
    published = dict(rows[1:])
    assert published["trainees"] == "180" and published["provinces"] == "18"
    assert published["government departments %"] == "42"
    assert published["universities and research institutes %"] == "24"


def one_session_event(
    event_id: str, title: str, session_id: str, from_min: int, to_min: int
) -> Event:
    """An event of one session, from `from_min` to `to_min` minutes from now."""
    now = datetime.now(UTC).replace(microsecond=0)
    return Event(
        id=event_id,
        title=title,
        timezone="UTC",
        sessions=(
            Session(
                id=session_id,
                title=session_id.title(),
                start=now + timedelta(minutes=from_min),
                end=now + timedelta(minutes=to_min),
            ),
        ),
    )


def past_event() -> Event:
    return one_session_event("past-event", "Finished training", "done", -70, -10)


async def door(
    client: TestClient, device: str, issued: float | None = None
) -> aiohttp.ClientWebSocketResponse:
    """A staff scanner's socket, past hello; its token issued at `issued` (default now)."""
    now = time.time()
    at = now if issued is None else issued
    token = client.app[keys.TOKENS].issue("staff", now=at, ttl_s=int(now - at) + 3600)
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "id": "h", "token": token, "device": device})
    assert (await ws.receive_json())["type"] == "welcome"
    return ws


EVIL = Participant("E1", '=HYPERLINK("http://x")', "e@x.org", "+Org", "other", "@Hubei")
GOOD = Participant("G1", "Good Trainee", "g@x.org", "Org", "government", "Guangdong")


async def test_certificates_verify_and_injection_safety(
    make_client: MakeClient, tmp_path: Path
) -> None:
    event = past_event()
    client = await make_client(event=event, roster=[EVIL, GOOD])
    config = client.app[keys.CONFIG]
    ws = await door(client, "d1")
    code = client.app[keys.BADGES].code_for("G1")
    start = event.sessions[0].start_ts
    await ws.send_json(
        {
            "type": "sync",
            "id": "s",
            "scans": [
                {"id": "a", "code": code, "session": "done", "direction": "in", "scanned_at": start}
            ],
        }
    )
    res = await ws.receive_json()
    assert res["results"][0]["outcome"] == "accepted"
    await ws.close()

    # attendance CSV: minutes, status, no formula from user data
    att = await client.get("/api/v1/reports/attendance.csv", headers=bearer(client))
    assert att.status == 200 and att.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO((await att.read()).decode("utf-8-sig"))))
    by_id = {r["participant_id"]: r for r in rows}
    assert by_id["G1"]["room_min"] == "60" and by_id["G1"]["status"] == "attended"
    assert by_id["E1"]["status"] == "absent"
    assert by_id["E1"]["name"].startswith("'=") and by_id["E1"]["organization"] == "'+Org"
    assert by_id["E1"]["province"] == "'@Hubei"

    certs = await client.get("/api/v1/reports/certificates.csv", headers=bearer(client))
    crow = {
        r["participant_id"]: r
        for r in csv.DictReader(io.StringIO((await certs.read()).decode("utf-8-sig")))
    }
    assert crow["G1"]["eligible"] == "yes" and crow["E1"]["eligible"] == "no"
    cert = crow["G1"]["certificate_id"]
    assert crow["G1"]["verify_url"].endswith(f"/verify/{cert}")
    ok = await client.get(f"/verify/{cert}")
    body = await ok.json()
    assert ok.status == 200 and body["valid"] and body["participant"]["id"] == "G1"
    page = await client.get(f"/verify/{cert}", headers={"Accept": "text/html"})
    assert "Valid certificate" in await page.text()
    # Typed from paper: blanks around it and a lower-case signature still check, and
    # the answer names the certificate as issued, never the raw text it was sent.
    head, mac = cert.rsplit("~", 1)
    typed = await client.get(f"/verify/%20{head}~{mac.lower()}%09%20")
    body = await typed.json()
    assert typed.status == 200 and body["certificate_id"] == cert
    forged = await client.get(f"/verify/{cert[:-2]}AA")
    assert forged.status == 404 and (await forged.json())["reason"] == "invalid_signature"
    stranger = await client.get("/verify/PC1~past-event~E1~AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert stranger.status == 404

    # per-session attendance (JSON)
    live = await client.get("/api/v1/sessions/done/attendance", headers=bearer(client))
    data = await live.json()
    assert data["attended"] == 1 and data["registered"] == 2
    trainee = {t["participant"]: t for t in data["trainees"]}
    assert trainee["G1"]["total_min"] == 60
    assert (
        await client.get("/api/v1/sessions/nope/attendance", headers=bearer(client))
    ).status == 404

    # the CLI writes the same reports from the same store
    out = tmp_path / "certs.xlsx"
    argv = ["--store", config.store, "--secret-file", str(config.secret_file)]
    assert (
        await asyncio.to_thread(
            main, [*argv, "report", "certificates", "--format", "xlsx", "--out", str(out)]
        )
        == 0
    )
    wb = load_workbook(out)
    values = [list(r) for r in wb["Certificates"].iter_rows(values_only=True)]
    assert values[0][0] == "participant_id"
    g1 = next(r for r in values if r[0] == "G1")
    assert g1[8] == cert
    for row in wb["Certificates"].iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    out_csv = tmp_path / "att.csv"
    assert (
        await asyncio.to_thread(
            main, [*argv, "report", "attendance", "--format", "csv", "--out", str(out_csv)]
        )
        == 0
    )
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbfparticipant_id")


async def test_reports_need_the_organizer(make_client: MakeClient) -> None:
    client = await make_client()
    assert (await client.get("/api/v1/reports/attendance.csv")).status == 401
    staff = bearer(client, "staff")
    res = await client.get("/api/v1/reports/certificates.xlsx", headers=staff)
    assert res.status == 403 and "error" in json.loads(await res.text())
    # staff may see the attendance of their own session only
    bound = bearer(client, "staff", session="s2")
    assert (await client.get("/api/v1/sessions/s1/attendance", headers=bound)).status == 403
    assert (await client.get("/api/v1/sessions/s2/attendance", headers=bound)).status == 200


async def test_a_running_session_counts_only_the_time_lived_so_far(make_client: MakeClient) -> None:
    """A trainee who came in 10 minutes ago and is still inside has 10 minutes, not
    the rest of the session too: reports and /verify never count time still to come."""
    event = one_session_event("running", "Running training", "live", -40, 20)
    client = await make_client(event=event, roster=[GOOD])
    ws = await door(client, "d1")
    code = client.app[keys.BADGES].code_for("G1")
    came_in = time.time() - 600
    scan = {"id": "a", "code": code, "session": "live", "direction": "in", "scanned_at": came_in}
    await ws.send_json({"type": "sync", "id": "s", "scans": [scan]})
    assert (await ws.receive_json())["results"][0]["outcome"] == "accepted"
    await ws.close()
    att = await client.get("/api/v1/reports/attendance.csv", headers=bearer(client))
    (row,) = csv.DictReader(io.StringIO((await att.read()).decode("utf-8-sig")))
    assert row["room_min"] == "10" and row["total_min"] == "10" and row["status"] != "attended"
    certs = await client.get("/api/v1/reports/certificates.csv", headers=bearer(client))
    (cert,) = csv.DictReader(io.StringIO((await certs.read()).decode("utf-8-sig")))
    assert cert["eligible"] == "no" and cert["certificate_id"] == ""


async def test_demo_programme_certifies_a_trainee_in_the_room_and_one_online(
    make_client: MakeClient,
) -> None:
    """Each required session of CIEP 2021 can be attended at the door and online, so a
    trainee who was in the room for all of them is certified, and so is one who watched
    all of them (their watching recorded as the media meter records it)."""
    from podium_server.attendance.records import WatchInterval
    from podium_server.event.demo import demo_event, demo_roster

    event = demo_event()
    client = await make_client(event=event)
    store = client.app[keys.STORE]
    roster = demo_roster()
    await store.upsert_participants(roster)
    in_room, online = roster[0].id, roster[1].id
    # the door's token, from before day one
    ws = await door(client, "door-1", issued=event.sessions[0].start_ts - 3600)
    code = client.app[keys.BADGES].code_for(in_room)
    scans = []
    for s in event.sessions:
        for direction, at in (("in", s.start_ts), ("out", s.end_ts - 1)):
            scans.append(
                {
                    "id": f"{s.id}-{direction}",
                    "code": code,
                    "session": s.id,
                    "direction": direction,
                    "scanned_at": at,
                }
            )
    await ws.send_json({"type": "sync", "id": "queue", "scans": scans})
    results = (await ws.receive_json())["results"]
    assert [r["outcome"] for r in results] == ["accepted"] * len(scans)
    await ws.close()
    # a token issued today cannot make up 2021's attendance for somebody else
    ws = await door(client, "door-2")
    other = {**scans[0], "id": "made-up", "code": client.app[keys.BADGES].code_for(roster[2].id)}
    await ws.send_json({"type": "sync", "id": "late", "scans": [other]})
    assert (await ws.receive_json())["results"][0]["outcome"] == "outside_window"
    await ws.close()
    for s in event.sessions:
        if s.stream:
            await store.record_watch(
                WatchInterval(s.id, online, f"w-{s.id}", s.start_ts, s.end_ts, False)
            )
    certs = await client.get("/api/v1/reports/certificates.csv", headers=bearer(client))
    rows = {
        r["participant_id"]: r
        for r in csv.DictReader(io.StringIO((await certs.read()).decode("utf-8-sig")))
    }
    assert rows[in_room]["eligible"] == "yes" and rows[online]["eligible"] == "yes"
    assert rows[roster[2].id]["eligible"] == "no"
