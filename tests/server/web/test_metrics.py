"""`/metrics`: parsed as Prometheus parses it, after real traffic on a real app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from podium_server import appkeys as keys
from podium_server.event.model import Participant
from web_client import MakeClient, issue_token

PEOPLE = [
    Participant(f"T{i:03d}", f"Trainee {i}", "", "Org", "government", "Hubei") for i in range(3)
]


async def scrape(client: TestClient) -> dict[str, float]:
    """Every sample, by name and labels (`name{k="v"}`)."""
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def hello(client: TestClient, role: str) -> Any:
    ws = await client.ws_connect("/ws")
    token = issue_token(client, role)
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token, "device": role}))
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
    return ws


async def test_metrics_after_scans_and_a_dashboard(make_client: MakeClient) -> None:
    client = await make_client(roster=PEOPLE)
    before = await scrape(client)
    assert before['podium_ws_connections{role="staff"}'] == 0
    assert before["podium_scan_ack_seconds_count"] == 0

    dashboard = await hello(client, "organizer")
    await dashboard.send_str(json.dumps({"type": "subscribe", "id": "sub"}))
    assert json.loads((await dashboard.receive(timeout=5)).data)["type"] == "snapshot"
    door = await hello(client, "staff")
    silent = await client.ws_connect("/ws")  # no hello yet
    for i, person in enumerate(PEOPLE):
        code = client.app[keys.BADGES].code_for(person.id)
        scan = {"type": "scan", "id": f"s{i}", "code": code, "session": "s1", "direction": "in"}
        await door.send_str(json.dumps(scan))
        assert json.loads((await door.receive(timeout=5)).data)["outcome"] == "accepted"
    update = json.loads((await dashboard.receive(timeout=5)).data)
    assert update["type"] == "update"

    during = await scrape(client)
    assert during['podium_ws_connections{role="staff"}'] == 1
    assert during['podium_ws_connections{role="organizer"}'] == 1
    assert during['podium_ws_connections{role="pending"}'] == 1
    assert during["podium_scan_ack_seconds_count"] == 3
    assert 0 < during["podium_scan_ack_seconds_sum"] < 5
    assert during['podium_scan_ack_seconds_bucket{le="+Inf"}'] == 3
    assert during["podium_dashboard_push_lag_seconds_count"] >= 1
    assert during["podium_dashboard_push_lag_seconds_sum"] < 5
    # the names that existed before prometheus-client still answer
    assert during["podium_scans_total"] == 3
    assert during["podium_scan_outcome_accepted_total"] == 3
    assert during["podium_dashboard_subscribers"] == 1
    assert during["podium_http_responses_2xx_total"] >= 1
    assert "podium_media_viewers" in during and "podium_media_publishers" in during
    # what the process costs, for a leak to show on a graph
    assert during["process_resident_memory_bytes"] > 10_000_000
    assert during["process_open_fds"] > 0 and during["process_cpu_seconds_total"] > 0
    # the store
    assert during["podium_store_up"] == 1
    assert during["podium_store_errors_total"] == 0
    assert during["podium_store_outage_seconds_total"] == 0

    for ws in (door, dashboard, silent):
        await ws.close()
    for _ in range(50):
        after = await scrape(client)
        if sum(v for k, v in after.items() if k.startswith("podium_ws_connections{")) == 0:
            break
        await asyncio.sleep(0.05)
    assert after['podium_ws_connections{role="staff"}'] == 0
    assert after['podium_ws_connections{role="pending"}'] == 0


async def test_a_gauge_that_fails_does_not_break_the_scrape(make_client: MakeClient) -> None:
    client = await make_client()
    client.app[keys.METRICS].gauge("podium_broken", lambda: 1 / 0, "always fails")
    samples = await scrape(client)
    assert samples["podium_broken"] != samples["podium_broken"]  # NaN
    assert samples["podium_store_up"] == 1
