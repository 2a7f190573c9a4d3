"""End to end: a trainee watching by WHEP is counted online by the ledger.

Real app, real SQLite file, real aiortc publisher and viewer over 127.0.0.1: online
attendance comes from the server's own delivery of media, not from anything the
trainee says.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import av
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.event.model import Participant
from web_client import MakeClient, bearer

from .peers import publish, watch

TRAINEE = Participant(
    id="P1",
    name="Wang Fang",
    email="",
    organization="Shenzhen Bureau",
    org_type="government",
    province="Guangdong",
    mode="online",
)


def signaller(client: TestClient, path: str, headers: dict[str, str]) -> Callable[[str], Any]:
    async def signal(sdp: str) -> str:
        response = await client.post(
            path, data=sdp, headers=headers | {"Content-Type": "application/sdp"}
        )
        assert response.status == 201, await response.text()
        return await response.text()

    return signal


async def online_now(client: TestClient, organizer: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/sessions/s1/attendance", headers=organizer)
    assert response.status == 200
    return await response.json()


async def test_watching_by_whep_counts_as_online_attendance(
    make_client: MakeClient,
    vp8_packets: list[av.Packet],
) -> None:
    client = await make_client(roster=[TRAINEE])
    organizer = bearer(client, "organizer")
    before = await online_now(client, organizer)
    assert before["online"] == 0

    publisher = await publish(
        signaller(client, "/whip/s1", bearer(client, "speaker", session="s1")), vp8_packets
    )
    viewer = await watch(signaller(client, "/whep/s1", bearer(client, "trainee", participant="P1")))
    try:
        assert await viewer.wait_frames(10, within=10), "the trainee saw no picture"
        # Receiver reports flow every second or so; the meter then announces the interval.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = await online_now(client, organizer)
            if now["online"] == 1:
                break
            await asyncio.sleep(0.25)
        assert now["online"] == 1
        await asyncio.sleep(3)  # a few seconds of watching
    finally:
        await viewer.close()
    try:
        # The viewer hung up: the interval closes and the trainee is no longer online,
        # but the watched time stays recorded.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            after = await online_now(client, organizer)
            if after["online"] == 0:
                break
            await asyncio.sleep(0.25)
        assert after["online"] == 0
        (row,) = [t for t in after["trainees"] if t["participant"] == "P1"]
        assert row["room_s"] == 0
        assert 2 <= row["online_s"] <= 30
        assert row["total_s"] == row["online_s"]
    finally:
        await publisher.close()


async def test_a_viewer_is_counted_online_at_its_first_receiver_report(
    make_client: MakeClient,
    vp8_packets: list[av.Packet],
) -> None:
    """Not at the next periodic upkeep: with that a minute away, the trainee still shows
    online within a few seconds (the first receiver report wakes the upkeep)."""
    from podium_server.web.media import MEDIA

    client = await make_client()
    client.app[MEDIA].tick_interval = 60.0
    await client.app[keys.STORE].upsert_participants([TRAINEE])
    organizer = bearer(client, "organizer")
    publisher = await publish(
        signaller(client, "/whip/s1", bearer(client, "speaker", session="s1")), vp8_packets
    )
    viewer = await watch(signaller(client, "/whep/s1", bearer(client, "trainee", participant="P1")))
    try:
        assert await viewer.wait_frames(1, within=10), "the trainee saw no picture"
        deadline = time.monotonic() + 8
        while (await online_now(client, organizer))["online"] != 1:
            assert time.monotonic() < deadline, "not counted online before the next upkeep"
            await asyncio.sleep(0.1)
    finally:
        await viewer.close()
        await publisher.close()
