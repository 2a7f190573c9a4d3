"""What one node announces on the bus and the other nodes do with it: two apps on one
real Redis. A roster import and a programme load on node A reach node B's dashboards
and its programme without a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event
from web_client import bearer, issue_token

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
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    event: Event,
    redis_url: str,
    tmp_path: Path,
) -> tuple[TestClient, TestClient]:
    secret = tmp_path / "shared.key"
    return tuple(  # type: ignore[return-value]
        [
            await aiohttp_client(
                create_app(
                    make_config(store=redis_url, secret_file=secret, node_id=node), event=event
                )
            )
            for node in ("a", "b")
        ]
    )


async def dashboard(client: TestClient) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await client.ws_connect("/ws")
    token = issue_token(client, "organizer")
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token, "device": "dash"}))
    await ws.send_str(json.dumps({"type": "subscribe", "id": "sub"}))
    while True:
        frame = json.loads(await ws.receive_str(timeout=5))
        if frame.get("re") == "sub":
            return ws, frame


async def test_a_roster_import_on_one_node_updates_the_dashboards_on_another(
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    small_event: Event,
    redis_url: str,
    tmp_path: Path,
) -> None:
    a, b = await two_nodes(aiohttp_client, make_config, small_event, redis_url, tmp_path)
    ws, snapshot = await dashboard(b)
    before = snapshot["sessions"]["s1"]["registered"]
    roster = (
        "id,name,email,organization,org_type,province,mode\n"
        "N900,Newly Added,,Bureau,government,Hainan,in_person\n"
    )
    answer = await a.post("/api/v1/roster", data=roster.encode(), headers=bearer(a))
    assert answer.status == 200, await answer.text()
    while True:  # B's cached roster was dropped: its next push counts the newcomer
        frame = json.loads(await ws.receive_str(timeout=5))
        if frame["type"] == "update" and "s1" in frame["sessions"]:
            if frame["sessions"]["s1"]["registered"] == before + 1:
                break
    await ws.close()


async def test_a_programme_loaded_on_one_node_is_used_by_another(
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    small_event: Event,
    redis_url: str,
    tmp_path: Path,
) -> None:
    a, b = await two_nodes(aiohttp_client, make_config, small_event, redis_url, tmp_path)
    assert (await (await b.get("/api/v1/event")).json())["id"] == small_event.id
    loaded = await a.put("/api/v1/event", data=PROGRAMME.encode(), headers=bearer(a))
    assert loaded.status == 200, await loaded.text()
    for _ in range(50):
        if (await (await b.get("/api/v1/event")).json())["id"] == "second-event":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("node B still shows the old programme")
