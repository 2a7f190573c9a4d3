"""The reads behind the watch and publish pages, on a real app and SQLite store: a
trainee gets their own attended time and nobody else's; a speaker gets the viewer count
of their own session only."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from podium_server import appkeys as keys
from podium_server.attendance.records import WatchInterval
from podium_server.event.model import Event, Participant, Session
from web_client import MakeClient, bearer


def event() -> Event:
    now = datetime.now(UTC).replace(microsecond=0)
    return Event(
        id="t",
        title="Test training",
        timezone="UTC",
        sessions=(
            Session(
                id="s1",
                title="Live",
                start=now - timedelta(minutes=20),
                end=now + timedelta(minutes=40),
                stream=True,
            ),
            Session(
                id="s2",
                title="Later",
                start=now + timedelta(hours=2),
                end=now + timedelta(hours=3),
                stream=True,
            ),
        ),
    )


def person(pid: str) -> Participant:
    return Participant(pid, f"Trainee {pid}", f"{pid}@example.org", "Org", "government", "Beijing")


async def test_a_trainee_reads_only_their_own_minutes(make_client: MakeClient) -> None:
    client = await make_client(event=event(), roster=[person("T1"), person("T2")])
    now = time.time()
    sink = client.app[keys.WATCH_SINK]
    # T1 watched 5 minutes of s1 so far (one interval still open); T2 watched 15.
    await sink.record_watch(WatchInterval("s1", "T1", "a", now - 600, now - 420, False))
    await sink.record_watch(WatchInterval("s1", "T1", "b", now - 120, now, True))
    await sink.record_watch(WatchInterval("s1", "T2", "c", now - 900, now, True))

    res = await client.get(
        "/api/v1/sessions/s1/attendance/me", headers=bearer(client, "trainee", participant="T1")
    )
    assert res.status == 200
    assert res.headers["Cache-Control"] == "no-store"
    mine = await res.json()
    assert mine["participant"] == "T1" and mine["session"] == "s1"
    assert abs(mine["online_s"] - 300) < 2 and mine["room_s"] == 0
    assert mine["total_min"] == 5 and mine["status"] == "partial"
    assert mine["duration_s"] == 3600 and mine["needed_s"] == 2700

    # Nothing recorded in s2 yet; a trainee bound to s1 may not ask about s2.
    res = await client.get(
        "/api/v1/sessions/s2/attendance/me", headers=bearer(client, "trainee", participant="T2")
    )
    assert (await res.json())["total_s"] == 0
    res = await client.get(
        "/api/v1/sessions/s2/attendance/me",
        headers=bearer(client, "trainee", participant="T2", session="s1"),
    )
    assert res.status == 403

    for role, claims in (("organizer", {}), ("staff", {}), ("speaker", {"session": "s1"})):
        res = await client.get(
            "/api/v1/sessions/s1/attendance/me", headers=bearer(client, role, **claims)
        )
        assert res.status == 403, role
        assert (await res.json())["error"]["code"] == "forbidden"
    res = await client.get("/api/v1/sessions/s1/attendance/me")
    assert res.status == 401
    res = await client.get(
        "/api/v1/sessions/nope/attendance/me", headers=bearer(client, "trainee", participant="T1")
    )
    assert res.status == 404


async def test_a_speaker_reads_the_viewer_count_of_their_own_session(
    make_client: MakeClient,
) -> None:
    client = await make_client(event=event(), roster=[person("T1"), person("T2")])
    res = await client.get(
        "/api/v1/sessions/s1/viewers", headers=bearer(client, "speaker", session="s1")
    )
    assert res.status == 200
    body = await res.json()
    assert set(body) == {"session", "publishing", "viewers", "server_time"}
    assert (body["session"], body["publishing"], body["viewers"]) == ("s1", False, 0)
    res = await client.get("/api/v1/sessions/s1/viewers", headers=bearer(client, "organizer"))
    assert res.status == 200
    res = await client.get(
        "/api/v1/sessions/s1/viewers", headers=bearer(client, "speaker", session="s2")
    )
    assert res.status == 403
    res = await client.get(
        "/api/v1/sessions/s1/viewers", headers=bearer(client, "trainee", participant="T1")
    )
    assert res.status == 403
    res = await client.get("/api/v1/sessions/zz/viewers", headers=bearer(client, "organizer"))
    assert res.status == 404
