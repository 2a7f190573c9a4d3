"""HTTP API through a real app on a real SQLite file (aiohttp_client)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from web_client import bearer, issue_token

HEADER = "id,name,email,organization,org_type,province,mode\n"


async def test_health_ready_and_metrics(client: TestClient) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["event"] == "test-event"
    metrics = await client.get("/metrics")
    assert metrics.status == 200 and metrics.content_type == "text/plain"


async def test_event_is_public(client: TestClient) -> None:
    body = await (await client.get("/api/v1/event")).json()
    assert body["id"] == "test-event"
    assert [s["id"] for s in body["sessions"]] == ["s1", "s2"]


async def test_participants_need_an_organizer(client: TestClient) -> None:
    anonymous = await client.get("/api/v1/participants")
    assert anonymous.status == 401
    assert (await anonymous.json())["error"]["code"] == "unauthorized"
    staff = await client.get("/api/v1/participants", headers=bearer(client, "staff"))
    assert staff.status == 403
    body = await staff.json()
    assert body["error"]["code"] == "forbidden" and "participants" not in body
    for bad in ("pd1.a.b", "pd1.é.x", "pd1.abc.é"):
        forged = await client.get(
            "/api/v1/participants", headers={"Authorization": f"Bearer {bad}"}
        )
        assert forged.status == 401, bad


async def test_roster_import_then_list_with_badge_codes(client: TestClient) -> None:
    org = bearer(client, "organizer")
    csv = HEADER + "P1,Wang Fang,,Bureau,government,Guangdong,in_person\n"
    imported = await client.post("/api/v1/roster", data=csv.encode(), headers=org)
    assert (await imported.json()) == {"added": 1, "updated": 0, "total": 1}
    listed = await (await client.get("/api/v1/participants", headers=org)).json()
    (p,) = listed["participants"]
    assert p["id"] == "P1" and client.app[keys.BADGES].verify(p["badge_code"]) == "P1"
    # Re-import updates by id.
    again = HEADER + "P1,Wang Fang,wf@example.cn,Bureau,government,Guangdong,online\n"
    updated = await client.post("/api/v1/roster", data=again.encode(), headers=org)
    assert (await updated.json())["updated"] == 1
    one = await (await client.get("/api/v1/participants/P1", headers=org)).json()
    assert one["mode"] == "online" and one["email"] == "wf@example.cn"
    missing = await client.get("/api/v1/participants/P404", headers=org)
    assert missing.status == 404


async def test_roster_cap_holds_for_chunked_bodies(client: TestClient) -> None:
    """A body without Content-Length is counted as it is read, and refused at the cap."""
    org = bearer(client, "organizer")
    line = "P{},Wang Fang,,Bureau,government,Guangdong,in_person\n"
    sent = 0

    async def chunks(total: int) -> AsyncIterator[bytes]:
        nonlocal sent
        yield HEADER.encode()
        n = 0
        while sent < total:
            block = "".join(line.format(n + i) for i in range(1000)).encode()
            n += 1000
            sent += len(block)
            yield block

    huge = await client.post("/api/v1/roster", data=chunks(6 * 1024 * 1024), headers=org)
    assert huge.status == 413
    assert (await huge.json())["error"]["code"] == "payload_too_large"
    assert await client.app[keys.STORE].list_participants() == []
    # Under the cap, chunked is fine.
    sent = 0
    small = await client.post("/api/v1/roster", data=chunks(10_000), headers=org)
    assert small.status == 200 and (await small.json())["added"] >= 100


async def test_bad_roster_is_refused_whole(client: TestClient) -> None:
    org = bearer(client, "organizer")
    csv = HEADER + "P1,Ok,,Org,government,Beijing,online\nP2,,,Org,nope,Beijing,online\n"
    refused = await client.post("/api/v1/roster", data=csv.encode(), headers=org)
    assert refused.status == 422
    body = await refused.json()
    assert body["error"]["code"] == "invalid_file"
    assert body["error"]["detail"]["errors"][0]["line"] == 3
    listed = await (await client.get("/api/v1/participants", headers=org)).json()
    assert listed["participants"] == []  # P1 was not half-imported


async def test_revoked_token_stops_working_on_next_use(client: TestClient) -> None:
    org_token = issue_token(client, "organizer")
    headers = {"Authorization": f"Bearer {org_token}"}
    assert (await client.get("/api/v1/participants", headers=headers)).status == 200
    jti = client.app[keys.TOKENS].verify(org_token, now=time.time()).jti
    await client.app[keys.STORE].revoke("token", jti, time.time())
    refused = await client.get("/api/v1/participants", headers=headers)
    assert refused.status == 401 and "revoked" in (await refused.json())["error"]["message"]
    uses = [(a.kind, a.actor) for a in await client.app[keys.STORE].list_audit()]
    assert uses[-2:] == [("token_use", jti), ("token_refused", jti)]  # the refusal is kept


async def test_token_use_is_audited(client: TestClient) -> None:
    await client.get("/api/v1/participants", headers=bearer(client, "organizer"))
    audit = await client.app[keys.STORE].list_audit()
    assert [r.kind for r in audit][-1] == "token_use"


async def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = await client.get("/api/v1/nothing")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_badge_key_is_published(client: TestClient) -> None:
    body = await (await client.get("/api/v1/badge-key")).json()
    assert body["alg"] == "Ed25519" and len(bytes.fromhex(body["public_key_hex"])) == 32


async def test_metrics_count_responses_by_status_class(client: TestClient) -> None:
    await client.get("/api/v1/event")
    await client.get("/api/v1/participants")  # 401
    text = await (await client.get("/metrics")).text()
    assert "podium_http_responses_2xx_total" in text
    assert "podium_http_responses_4xx_total 1" in text
