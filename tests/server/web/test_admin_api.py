"""The organizer's /admin endpoints through a real app on a real SQLite file: links and
their QR codes, revocation, the audit log, the programme, invitations, badges."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.event.model import Participant
from web_client import bearer, issue_token

PEOPLE = [
    Participant("T001", "Wang Fang", "wf@x.org", "Bureau", "government", "Guangdong"),
    Participant("T002", "=HYPERLINK(1)", "", "Uni", "university", "Hubei", "online"),
]
GOOD_TOML = """
[event]
id = "second-event"
title = "Second training"
timezone = "Asia/Shanghai"

[[sessions]]
id = "open"
title = "Opening"
start = 2030-05-06T09:00:00
end = 2030-05-06T10:00:00
"""
pytestmark = pytest.mark.app(roster=PEOPLE)


async def hello(client: TestClient, token: str, device: str) -> dict[str, Any] | int:
    """The welcome frame, or the close code when the token is refused."""
    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token, "device": device}))
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type != WSMsgType.TEXT:
            return int(ws.close_code or 0)
        data = json.loads(msg.data)
        if data["type"] == "welcome":
            await ws.close()
            return dict(data)


async def test_admin_endpoints_are_for_organizers_only(client: TestClient) -> None:
    calls = [
        ("POST", "/api/v1/links", {"json": {"role": "staff", "device": "d"}}),
        ("GET", "/api/v1/links", {}),
        ("POST", "/api/v1/revocations", {"json": {"badge": "T001"}}),
        ("GET", "/api/v1/audit", {}),
        ("PUT", "/api/v1/event", {"data": GOOD_TOML.encode()}),
        ("GET", "/api/v1/invitations.csv", {}),
        ("GET", "/api/v1/badges.pdf", {}),
    ]
    for method, path, body in calls:
        anonymous = await client.request(method, path, **body)
        assert anonymous.status == 401, path
        staff = await client.request(method, path, headers=bearer(client, "staff"), **body)
        assert staff.status == 403, path
        assert (await staff.json())["error"]["code"] == "forbidden"
    # nothing happened: no badge revoked, the programme unchanged
    assert not await client.app[keys.STORE].is_revoked("badge", "T001")
    assert (await (await client.get("/api/v1/event")).json())["id"] == "test-event"


async def test_a_staff_link_opens_the_scanner_as_that_device(client: TestClient) -> None:
    org = bearer(client)
    issued = await client.post(
        "/api/v1/links", json={"role": "staff", "device": "door-B-2", "session": "s1"}, headers=org
    )
    assert issued.status == 200 and issued.headers["Cache-Control"] == "no-store"
    link = await issued.json()
    base = str(client.make_url("")).rstrip("/")
    assert link["url"] == f"{base}/scan#token={link['token']}"  # token in the fragment only
    assert link["qr_svg"].startswith("<svg") and "viewBox" in link["qr_svg"]
    assert "style=" not in link["qr_svg"]  # the pages' CSP refuses inline styles
    welcome = await hello(client, link["token"], "door-B-2")
    assert isinstance(welcome, dict) and welcome["role"] == "staff"
    claims = client.app[keys.TOKENS].verify(link["token"], now=time.time())
    assert (claims.session, claims.device, claims.jti) == ("s1", "door-B-2", link["jti"])
    assert 12 * 3600 - 5 <= claims.exp - time.time() <= 12 * 3600  # the default lifetime
    listed = await (await client.get("/api/v1/links", headers=org)).json()
    assert listed["links"][0] | {"issued_at": 0} == {
        "jti": link["jti"],
        "role": "staff",
        "session": "s1",
        "device": "door-B-2",
        "issued_at": 0,
        "exp": claims.exp,
        "revoked": False,
    }


async def test_a_speaker_link_carries_the_whip_url_and_token(client: TestClient) -> None:
    link = await (
        await client.post(
            "/api/v1/links", json={"role": "speaker", "session": "s1"}, headers=bearer(client)
        )
    ).json()
    base = str(client.make_url("")).rstrip("/")
    assert link["whip_url"] == f"{base}/whip/s1"
    assert link["url"] == f"{base}/publish/s1#token={link['token']}"
    claims = client.app[keys.TOKENS].verify(link["token"], now=time.time())
    assert claims.may_publish("s1") and not claims.may_publish("s2")
    # OBS posts its offer with the token as bearer: accepted as the speaker's (an empty
    # offer is refused as such, not as unauthorized)
    offer = await client.post(
        "/whip/s1",
        data=b"",
        headers={"Authorization": f"Bearer {link['token']}", "Content-Type": "application/sdp"},
    )
    assert offer.status not in (401, 403), await offer.text()


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"role": "trainee", "participant": "T001"}, 400, "invitations.csv"),
        ({"role": "staff"}, 400, "name the device"),
        ({"role": "staff", "device": "door<script>"}, 400, "device"),
        ({"role": "staff", "device": "d", "session": "nope"}, 404, "no session"),
        ({"role": "speaker"}, 400, "one session"),
        ({"role": "staff", "device": "d", "ttl": "30d"}, 400, "at most 7d"),
        ({"role": "staff", "device": "d", "ttl": "soon"}, 400, "bad ttl"),
        (["staff"], 400, "JSON object"),
    ],
)
async def test_bad_link_requests_say_why(
    client: TestClient, body: Any, status: int, words: str
) -> None:
    answer = await client.post("/api/v1/links", json=body, headers=bearer(client))
    assert answer.status == status
    assert words in (await answer.json())["error"]["message"]


async def test_revoking_a_link_stops_its_next_use(client: TestClient) -> None:
    org = bearer(client)
    link = await (
        await client.post("/api/v1/links", json={"role": "staff", "device": "d1"}, headers=org)
    ).json()
    by_id = await client.post("/api/v1/revocations", json={"token": link["jti"]}, headers=org)
    assert (await by_id.json()) == {"revoked": "token", "value": link["jti"], "already": False}
    assert await hello(client, link["token"], "d1") == 4401
    listed = await (await client.get("/api/v1/links", headers=org)).json()
    assert listed["links"][0]["revoked"] is True
    # the whole token works too, and a second revocation is harmless
    again = await client.post("/api/v1/revocations", json={"token": link["token"]}, headers=org)
    assert (await again.json())["already"] is True
    forged = link["token"][:-4] + "AAAA"
    refused = await client.post("/api/v1/revocations", json={"token": forged}, headers=org)
    assert refused.status == 400 and "not one of our tokens" in (await refused.text())
    both = await client.post(
        "/api/v1/revocations", json={"token": link["jti"], "badge": "T001"}, headers=org
    )
    assert both.status == 400


async def test_revoking_a_badge_refuses_its_next_scan(client: TestClient) -> None:
    org = bearer(client)
    missing = await client.post("/api/v1/revocations", json={"badge": "T404"}, headers=org)
    assert missing.status == 404
    done = await client.post("/api/v1/revocations", json={"badge": "T001"}, headers=org)
    assert (await done.json()) == {"revoked": "badge", "value": "T001", "already": False}
    staff = issue_token(client, "staff")
    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": staff, "device": "door"}))
    assert json.loads(await ws.receive_str(timeout=5))["type"] == "welcome"
    code = client.app[keys.BADGES].code_for("T001")
    await ws.send_str(
        json.dumps({"type": "scan", "id": "s", "code": code, "session": "s1", "direction": "in"})
    )
    while (reply := json.loads(await ws.receive_str(timeout=5))).get("re") != "s":
        pass
    assert reply["outcome"] == "revoked"
    await ws.close()


async def test_the_audit_log_filters_and_pages(client: TestClient) -> None:
    org = bearer(client)
    for pid in ("T001", "T002"):
        await client.post("/api/v1/revocations", json={"badge": pid}, headers=org)
    await client.post("/api/v1/links", json={"role": "staff", "device": "door-9"}, headers=org)

    async def audit(**query: str) -> dict[str, Any]:
        answer = await client.get("/api/v1/audit", params=query, headers=org)
        assert answer.status == 200, await answer.text()
        return dict(await answer.json())

    revokes = await audit(kind="revoke")
    assert [e["detail"]["participant"] for e in revokes["entries"]] == ["T002", "T001"]
    mine = await audit(participant="T001")
    assert [e["kind"] for e in mine["entries"]] == ["revoke"]
    at_door = await audit(device="door-9")
    assert [e["kind"] for e in at_door["entries"]] == ["link_issued"]
    # paged: one line at a time, back to the start, every line once (each request is
    # audited too, so the pages start below the lines these requests add)
    everything = await audit(limit="200")
    positions = [e["pos"] for e in everything["entries"]]
    seen, before = [], str(positions[0] + 1)
    while True:
        page = await audit(limit="1", before=before)
        seen += [e["pos"] for e in page["entries"]]
        if page["older"] is None:
            break
        before = str(page["older"])
    assert seen == positions and len(seen) >= 5
    assert sorted(seen, reverse=True) == seen
    kinds = {e["kind"] for e in everything["entries"]}
    assert {"token_use", "revoke", "link_issued"} <= kinds
    for bad in ({"limit": "0"}, {"limit": "201"}, {"before": "x"}, {"before": "-1"}):
        answer = await client.get("/api/v1/audit", params=bad, headers=org)
        assert answer.status == 400, bad


async def test_a_bad_programme_names_its_lines_and_changes_nothing(client: TestClient) -> None:
    org = bearer(client)
    before = await (await client.get("/api/v1/event")).json()
    broken = GOOD_TOML.replace("end = 2030-05-06T10:00:00", "end = 2030-05-06T08:00:00")
    broken += '\n[[sessions]]\nid = "x"\ntitle = "No times"\n'
    answer = await client.put("/api/v1/event", data=broken.encode(), headers=org)
    assert answer.status == 422
    errors = (await answer.json())["error"]["detail"]["errors"]
    assert [(e["line"], "end must be after start" in e["reason"]) for e in errors][0] == (7, True)
    assert errors[1]["line"] == 13  # the second [[sessions]] header
    syntax = await client.put("/api/v1/event", data=b"[event]\nid = \n", headers=org)
    assert (await syntax.json())["error"]["detail"]["errors"][0]["line"] == 2
    empty = await client.put("/api/v1/event", data=b"  ", headers=org)
    assert empty.status == 400
    assert (await (await client.get("/api/v1/event")).json()) == before
    assert (await client.app[keys.STORE].load_event()).id == "test-event"  # type: ignore[union-attr]


async def test_a_good_programme_is_stored_and_served_at_once(client: TestClient) -> None:
    org = bearer(client)
    answer = await client.put("/api/v1/event", data=GOOD_TOML.encode(), headers=org)
    assert (await answer.json()) == {
        "event": "second-event",
        "title": "Second training",
        "sessions": 1,
    }
    served = await (await client.get("/api/v1/event")).json()
    assert served["id"] == "second-event" and [s["id"] for s in served["sessions"]] == ["open"]
    stored = await client.app[keys.STORE].load_event()
    assert stored is not None and stored.id == "second-event"
    log = await (await client.get("/api/v1/audit?kind=event_load", headers=org)).json()
    assert log["entries"][0]["detail"] == {"event": "second-event", "sessions": 1}


async def test_invitations_give_each_trainee_a_personal_watch_link(client: TestClient) -> None:
    answer = await client.get("/api/v1/invitations.csv", headers=bearer(client))
    assert answer.status == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="invitations.csv"'
    rows = list(csv.DictReader(io.StringIO((await answer.read()).decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == ["T001", "T002"]
    assert rows[1]["name"] == "'=HYPERLINK(1)"  # a spreadsheet never runs a name
    base = str(client.make_url("")).rstrip("/")
    for row in rows:
        url, _, token = row["watch_url"].partition("#token=")
        assert url == f"{base}/" and "?" not in url
        claims = client.app[keys.TOKENS].verify(token, now=time.time())
        assert (claims.role, claims.participant) == ("trainee", row["id"])
        # valid through the event and a day after it
        assert claims.exp >= time.time() + 86400


async def test_badges_print_as_a_pdf(client: TestClient) -> None:
    answer = await client.get("/api/v1/badges.pdf", headers=bearer(client))
    assert answer.status == 200 and answer.content_type == "application/pdf"
    body = await answer.read()
    assert body.startswith(b"%PDF") and len(body) > 1000


async def test_the_roster_summary_counts_without_naming_anyone(client: TestClient) -> None:
    answer = await client.get("/api/v1/roster/summary", headers=bearer(client))
    body = await answer.json()
    assert body["count"] == 2 and body["provinces"] == 2
    assert body["by_province"] == {"Guangdong": 1, "Hubei": 1}
    assert body["by_org_type"]["government"] == 1 and body["by_org_type"]["university"] == 1
    assert body["government_pct"] == 50 and body["by_mode"] == {"in_person": 1, "online": 1}
    assert "Wang Fang" not in await answer.text()
    staff = await client.get("/api/v1/roster/summary", headers=bearer(client, "staff"))
    assert staff.status == 403


async def test_arrivals_list_each_trainees_first_presence_once(client: TestClient) -> None:
    from podium_server.attendance.records import WatchInterval

    staff = issue_token(client, "staff")
    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": staff, "device": "door"}))
    await ws.receive_str(timeout=5)
    for n, direction in enumerate(("in", "out", "in")):  # T001 in, out, in again
        code = client.app[keys.BADGES].code_for("T001")
        frame = {"type": "scan", "id": f"s{n}", "code": code, "session": "s1"}
        await ws.send_str(json.dumps(frame | {"direction": direction}))
        while json.loads(await ws.receive_str(timeout=5)).get("re") != f"s{n}":
            pass
    await ws.close()
    now = time.time()
    sink = client.app[keys.WATCH_SINK]
    await sink.record_watch(WatchInterval("s1", "T002", "w1", now, now + 1, True))
    await sink.record_watch(WatchInterval("s2", "T001", "w2", now - 9, now, True))  # other session
    answer = await client.get("/api/v1/sessions/s1/arrivals", headers=bearer(client))
    body = await answer.json()
    assert [a["how"] for a in body["arrivals"]] == ["room", "online"]
    assert body["arrivals"][0]["at"] < body["arrivals"][1]["at"]
    assert body["start"] < body["server_time"] < body["end"]
    missing = await client.get("/api/v1/sessions/nope/arrivals", headers=bearer(client))
    assert missing.status == 404


async def test_a_roster_import_reaches_live_dashboards(client: TestClient) -> None:
    """`registered` changes on every dashboard at once, not at the next scan."""
    organizer = issue_token(client, "organizer")
    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": organizer, "device": "d"}))
    await ws.receive_str(timeout=5)
    await ws.send_str(json.dumps({"type": "subscribe", "id": "sub"}))
    snapshot = json.loads(await ws.receive_str(timeout=5))
    assert snapshot["sessions"]["s1"]["registered"] == 2
    header = "id,name,email,organization,org_type,province,mode\n"
    csv_body = header + "T003,Li Na,,Park,industrial_park,Henan,online\n"
    answer = await client.post("/api/v1/roster", data=csv_body.encode(), headers=bearer(client))
    assert (await answer.json())["added"] == 1
    while True:
        update = json.loads(await ws.receive_str(timeout=5))
        if update["type"] == "update":
            break
    assert update["sessions"]["s1"]["registered"] == 3
    await ws.close()
