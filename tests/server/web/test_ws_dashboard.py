"""Dashboards over `/ws`: the snapshot, updates as scans land, their pace, and a quiet
room's view not held back by a busy one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from ws_peer import connect, scan, started

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event


async def test_the_dashboard_empties_the_room_when_the_session_ends(
    aiohttp_client: Any, make_config: Callable[..., Config], small_event: Event
) -> None:
    """Few trainees scan out as a session ends: once it is over nobody is shown in the
    room, pushed to the dashboards then, not at the next scan; attended stays."""
    later = [0.0]
    app = create_app(make_config(), event=small_event, clock=lambda: time.time() + later[0])
    ws_client = await started(await aiohttp_client(app))
    staff = await connect(ws_client, "staff")
    assert (await staff.call(scan(ws_client, "T000")))["outcome"] == "accepted"
    org = await connect(ws_client, "organizer")
    snap = await org.call({"type": "subscribe", "session": "s1"})
    assert snap["sessions"]["s1"]["inside"] == 1
    s1 = small_event.session("s1")
    assert s1 is not None
    later[0] = s1.end_ts + 1 - time.time()
    upd = await org.next_of("update", wait=5)
    assert upd["sessions"]["s1"]["inside"] == 0 and upd["sessions"]["s1"]["attended"] == 1


async def test_dashboard_snapshot_and_updates(ws_client: TestClient) -> None:
    org = await connect(ws_client, "organizer", device="dash")
    snap = await org.call({"type": "subscribe", "session": "s1"})
    assert snap["type"] == "snapshot"
    s1 = snap["sessions"]["s1"]
    assert (s1["registered"], s1["inside"], s1["online"], s1["attended"]) == (3, 0, 0, 0)
    staff = await connect(ws_client, "staff")
    await staff.call(scan(ws_client, "T000"))
    await staff.call(scan(ws_client, "T001"))
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + 5
    times = []
    while seen.get("inside") != 2 and time.monotonic() < deadline:
        upd = await org.next_of("update")
        times.append(time.monotonic())
        seen = upd["sessions"]["s1"]
    assert seen["inside"] == 2 and seen["attended"] == 2
    assert seen["by_province"] == {"Guangdong": 1, "Hubei": 1}
    assert seen["by_org_type"] == {"government": 1, "university": 1}
    assert seen["recent"][0]["participant"] == "T001"
    # online presence from the media meter counts too, never twice
    from podium_server.attendance.records import WatchInterval

    now = time.time()
    await ws_client.app[keys.WATCH_SINK].record_watch(
        WatchInterval("s1", "T000", "w1", now - 30, now, True)
    )
    await ws_client.app[keys.WATCH_SINK].record_watch(
        WatchInterval("s1", "T002", "w2", now - 30, now, True)
    )
    while not (seen.get("online") == 2 and seen.get("attended") == 3):
        seen = (await org.next_of("update"))["sessions"]["s1"]
    # coalesced: a burst of scans yields few updates, at most 10 a second
    for i in range(30):
        await staff.ws.send_str(
            json.dumps(
                {**scan(ws_client, "T002", direction="out" if i % 2 else "in"), "id": f"b{i}"}
            )
        )
    stamps = []
    end = time.monotonic() + 1.6
    while time.monotonic() < end:
        try:
            await org.next_of("update", wait=max(0.01, end - time.monotonic()))
            stamps.append(time.monotonic())
        except TimeoutError:
            break
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(g >= 0.08 for g in gaps), gaps


async def test_dashboard_update_leads_after_a_quiet_spell(ws_client: TestClient) -> None:
    """<= 10 updates a second, but a change after >= 100 ms of quiet goes out at once
    (leading edge): it does not wait for a slot."""
    org = await connect(ws_client, "organizer", device="dash")
    await org.call({"type": "subscribe", "session": "s1"})
    staff = await connect(ws_client, "staff")
    delays = []
    for i in range(3):
        await asyncio.sleep(0.4)  # quiet: the last update is >= 100 ms old
        reply = await staff.call(
            scan(ws_client, "T000", direction="in" if i % 2 == 0 else "out", id=f"q{i}")
        )
        assert reply["outcome"] == "accepted"
        acked = time.monotonic()
        while True:
            upd = (await org.next_of("update"))["sessions"]["s1"]
            if upd["recent"] and upd["recent"][0]["scan_id"] == f"q{i}":
                break
        delays.append(time.monotonic() - acked)
    assert sorted(delays)[1] < 0.08, delays  # the median; a trailing edge would be ~100 ms


async def test_a_quiet_rooms_dashboard_is_not_held_back_by_a_busy_one(
    aiohttp_client: Any, make_config: Callable[..., Config], small_event: Event
) -> None:
    """Coalescing is per view: while the main hall changes all the time (its dashboard
    gets its 10 updates a second), a change in a quiet room reaches that room's
    dashboard at once instead of waiting for the hall's next slot."""
    hall, side = small_event.sessions
    both_live = dataclasses.replace(
        small_event, sessions=(hall, dataclasses.replace(side, start=hall.start, end=hall.end))
    )
    ws_client = await started(await aiohttp_client(create_app(make_config(), event=both_live)))
    hall_dash = await connect(ws_client, "organizer", device="hall-dash")
    await hall_dash.call({"type": "subscribe", "session": "s1"})
    side_dash = await connect(ws_client, "organizer", device="side-dash")
    await side_dash.call({"type": "subscribe", "session": "s2"})
    busy = await connect(ws_client, "staff", device="hall-door")
    quiet = await connect(ws_client, "staff", device="side-door")
    stop = asyncio.Event()

    async def keep_the_hall_busy() -> None:
        n = 0
        while not stop.is_set():
            direction = "in" if n % 2 == 0 else "out"
            await busy.call({**scan(ws_client, "T001", direction=direction), "id": f"h{n}"})
            n += 1
            await asyncio.sleep(0.03)

    hall_updates: list[float] = []

    async def watch_the_hall() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await hall_dash.next_of("update", wait=0.5)
                hall_updates.append(time.monotonic())

    tasks = [asyncio.create_task(keep_the_hall_busy()), asyncio.create_task(watch_the_hall())]
    delays = []
    try:
        for i in range(4):
            await asyncio.sleep(0.35)
            rid = f"q{i}"
            direction = "in" if i % 2 == 0 else "out"
            await quiet.call({**scan(ws_client, "T002", "s2", direction), "id": rid})
            acked = time.monotonic()
            while True:
                upd = (await side_dash.next_of("update"))["sessions"]["s2"]
                if upd["recent"] and upd["recent"][0]["scan_id"] == rid:
                    break
            delays.append(time.monotonic() - acked)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert sorted(delays)[len(delays) // 2] < 0.05, delays  # not ~50 ms on average
    gaps = [b - a for a, b in zip(hall_updates, hall_updates[1:], strict=False)]
    assert len(gaps) >= 3 and min(gaps) >= 0.08, gaps  # the hall: still <= 10 a second
