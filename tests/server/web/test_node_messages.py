"""What one node announces on the bus and the other nodes do with it: two apps on one
real Redis. A roster import and a programme load on node A reach node B's dashboards
and its programme without a restart."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient
from ws_peer import connect

from podium_http import wait_until
from podium_server import appkeys as keys
from podium_server.event.model import Event
from web_client import MakeClient, bearer

PROGRAMME = """
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


async def two_nodes(
    make_client: MakeClient, redis_url: str, tmp_path: Path
) -> tuple[TestClient, TestClient]:
    """Nodes a and b on one Redis, sharing the secret (tokens good on either)."""
    secret = tmp_path / "shared.key"
    a = await make_client(store=redis_url, secret_file=secret, node_id="a")
    b = await make_client(store=redis_url, secret_file=secret, node_id="b")
    return a, b


async def test_a_roster_import_on_one_node_updates_the_dashboards_on_another(
    make_client: MakeClient, redis_url: str, tmp_path: Path
) -> None:
    a, b = await two_nodes(make_client, redis_url, tmp_path)
    dashboard = await connect(b, "organizer", device="dash")
    snapshot = await dashboard.call({"type": "subscribe"})
    before = snapshot["sessions"]["s1"]["registered"]
    roster = (
        "id,name,email,organization,org_type,province,mode\n"
        "N900,Newly Added,,Bureau,government,Hainan,in_person\n"
    )
    answer = await a.post("/api/v1/roster", data=roster.encode(), headers=bearer(a))
    assert answer.status == 200, await answer.text()
    while True:  # B's cached roster was dropped: its next push counts the newcomer
        update = await dashboard.next_of("update")
        if "s1" in update["sessions"] and update["sessions"]["s1"]["registered"] == before + 1:
            break
    await dashboard.ws.close()


async def test_a_programme_loaded_on_one_node_is_used_by_another(
    make_client: MakeClient, small_event: Event, redis_url: str, tmp_path: Path
) -> None:
    a, b = await two_nodes(make_client, redis_url, tmp_path)
    assert (await (await b.get("/api/v1/event")).json())["id"] == small_event.id
    loaded = await a.put("/api/v1/event", data=PROGRAMME.encode(), headers=bearer(a))
    assert loaded.status == 200, await loaded.text()
    # B reloads it from the store when the bus tells it (no event to wait on here)
    assert await wait_until(lambda: b.app[keys.EVENT].require().id == "second-event", 5)
    assert (await (await b.get("/api/v1/event")).json())["id"] == "second-event"
