"""`/ws` end to end: a real app, a real store, real WebSocket frames."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_client import issue_token

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event, Participant

PEOPLE = [
    Participant(f"T{i:03d}", f"Trainee {i}", f"t{i}@x.org", "Org", org_type, province)
    for i, (org_type, province) in enumerate(
        [("government", "Guangdong"), ("university", "Hubei"), ("government", "Hubei")]
    )
]


async def started(client: TestClient) -> TestClient:
    await client.app[keys.STORE].upsert_participants(PEOPLE)
    return client


@pytest.fixture
async def client(
    aiohttp_client: Any, make_config: Callable[..., Config], small_event: Event
) -> TestClient:
    return await started(await aiohttp_client(create_app(make_config(), event=small_event)))


@pytest.fixture(params=["sqlite", "redis"])
async def client_on_each_store(
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    small_event: Event,
    request: pytest.FixtureRequest,
) -> TestClient:
    """`client` on SQLite, then on a real redis-server."""
    store = {"store": str(request.getfixturevalue("redis_url"))} if request.param == "redis" else {}
    app = create_app(make_config(**store), event=small_event)
    return await started(await aiohttp_client(app))


def badge(client: TestClient, pid: str) -> str:
    return str(client.app[keys.BADGES].code_for(pid))


class Peer:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.n = 0

    async def call(self, msg: dict[str, Any], wait: float = 5) -> dict[str, Any]:
        self.n += 1
        msg.setdefault("id", f"m{self.n}")
        await self.ws.send_str(json.dumps(msg))
        return await self.reply(msg["id"], wait)

    async def reply(self, rid: str | None, wait: float = 5) -> dict[str, Any]:
        while True:
            data = json.loads(await self.ws.receive_str(timeout=wait))
            if data.get("re") == rid or (rid is None and data["type"] == "error"):
                return data

    async def pipeline(self, frames: list[dict[str, Any]], wait: float = 5) -> dict[str, Any]:
        """Send every frame without waiting for answers; then each frame's answer, by id."""
        for frame in frames:
            await self.ws.send_str(json.dumps(frame))
        answers: dict[str, dict[str, Any]] = {}
        while len(answers) < len(frames):
            data = json.loads(await self.ws.receive_str(timeout=wait))
            answers[data["re"]] = data
        return answers

    async def next_of(self, kind: str, wait: float = 5) -> dict[str, Any]:
        while True:
            data = json.loads(await self.ws.receive_str(timeout=wait))
            if data["type"] == kind:
                return data


async def connect(
    client: TestClient, role: str, device: str = "door-A-1", token: str | None = None, **claims: Any
) -> Peer:
    """A /ws session; pass `token` to come back as the same scanner (a reconnect)."""
    ws = await client.ws_connect("/ws")
    peer = Peer(ws)
    welcome = await peer.call(
        {"type": "hello", "token": token or issue_token(client, role, **claims), "device": device}
    )
    assert welcome["type"] == "welcome" and welcome["role"] == role
    return peer


def scan(
    client: TestClient, pid: str, session: str = "s1", direction: str = "in", **kw: Any
) -> dict[str, Any]:
    return {
        "type": "scan",
        "code": badge(client, pid),
        "session": session,
        "direction": direction,
        **kw,
    }


async def until_closed(
    ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], aiohttp.WSMessage]:
    """Every message the server sends until it closes (into `into`, as they come), and
    the closing one."""
    messages = [] if into is None else into
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type != WSMsgType.TEXT:
            return messages, msg
        messages.append(json.loads(msg.data))


def slow_commits(client: TestClient, monkeypatch: pytest.MonkeyPatch, delay_s: float) -> None:
    """The store's commits take `delay_s` longer: scans stay in flight that long."""
    store = client.app[keys.STORE]
    commit = store.commit

    async def slow_commit(writes: Any) -> Any:
        await asyncio.sleep(delay_s)
        return await commit(writes)

    monkeypatch.setattr(store, "commit", slow_commit)


async def test_hello_first_or_4401(client: TestClient) -> None:
    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "scan", "id": "1"}))
    err = json.loads(await ws.receive_str())
    assert err["type"] == "error" and err["code"] == "bad_message"
    assert (await ws.receive()).type == WSMsgType.CLOSE and ws.close_code == 4401

    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "hello", "id": "1", "token": "pd1.forged.x"}))
    err = json.loads(await ws.receive_str())
    assert err == {"type": "error", "re": "1", "code": "forbidden", "message": err["message"]}
    assert (await ws.receive()).type == WSMsgType.CLOSE and ws.close_code == 4401

    ws = await client.ws_connect("/ws")
    await ws.send_str(
        json.dumps(
            {"type": "hello", "id": "1", "token": issue_token(client, "speaker", session="s1")}
        )
    )
    assert json.loads(await ws.receive_str())["code"] == "forbidden"
    assert (await ws.receive()).type == WSMsgType.CLOSE and ws.close_code == 4403


async def test_scan_outcomes(client: TestClient) -> None:
    staff = await connect(client, "staff")
    r = await staff.call(scan(client, "T000"))
    assert r["type"] == "scan.result" and r["outcome"] == "accepted"
    assert r["participant"]["id"] == "T000" and r["first_seen_at"] > 0
    assert (await staff.call(scan(client, "T000")))["outcome"] == "already_inside"
    assert (await staff.call(scan(client, "T000", direction="out")))["outcome"] == "accepted"
    assert (await staff.call(scan(client, "T000", direction="out")))["outcome"] == "not_inside"
    forged = badge(client, "T001")[:-4] + "AAAA"
    assert (await staff.call({**scan(client, "T001"), "code": forged}))[
        "outcome"
    ] == "invalid_signature"
    assert (await staff.call({**scan(client, "T001"), "code": "hello"}))[
        "outcome"
    ] == "unknown_badge"
    assert (await staff.call(scan(client, "NOBODY")))["outcome"] == "unknown_badge"
    await client.app[keys.STORE].revoke("badge", "T002", time.time())
    assert (await staff.call(scan(client, "T002")))["outcome"] == "revoked"
    assert (await staff.call(scan(client, "T001", session="s2")))["outcome"] == "outside_window"
    assert (await staff.call(scan(client, "T001", session="zz")))["outcome"] == "wrong_session"
    bound = await connect(client, "staff", device="door-B", session="s2")
    assert (await bound.call(scan(client, "T001")))["outcome"] == "wrong_session"


async def test_a_badge_revoked_from_the_command_line_counts_from_the_next_scan(
    client: TestClient,
) -> None:
    """`podium badge revoke` writes through a store of its own, and the server's copy of
    the revoked set is fresh: still the very next scan is refused, and an exit is kept."""
    from podium_server.store.factory import open_store

    staff = await connect(client, "staff")
    assert (await staff.call(scan(client, "T000")))["outcome"] == "accepted"
    assert (await staff.call(scan(client, "T001")))["outcome"] == "accepted"
    cli = open_store(client.app[keys.CONFIG].store)
    await cli.open()
    try:
        await cli.revoke("badge", "T000", time.time())
        await cli.revoke("badge", "T002", time.time())
    finally:
        await cli.close()
    assert (await staff.call(scan(client, "T002")))["outcome"] == "revoked"
    assert (await staff.call(scan(client, "T000")))["outcome"] == "revoked"  # in again
    assert (await staff.call(scan(client, "T000", direction="out")))["outcome"] == "accepted"
    assert (await staff.call(scan(client, "T001", direction="out")))["outcome"] == "accepted"


async def test_retry_same_id_same_answer_recorded_once_across_reconnect(client: TestClient) -> None:
    token = issue_token(client, "staff")
    staff = await connect(client, "staff", token=token)
    first = await staff.call({**scan(client, "T000"), "id": "scan-42"})
    await staff.ws.close()
    staff = await connect(client, "staff", token=token)  # the same scanner, back again
    again = await staff.call({**scan(client, "T000"), "id": "scan-42"})
    assert again == first and again["outcome"] == "accepted"
    audit = await client.app[keys.STORE].list_audit()
    assert sum(1 for a in audit if a.kind == "scan" and a.detail["id"] == "scan-42") == 1
    # many concurrent copies of one request: one record, one answer
    for _ in range(20):
        await staff.ws.send_str(json.dumps({**scan(client, "T001"), "id": "dup"}))
    replies = [await staff.reply("dup") for _ in range(20)]
    assert all(r == replies[0] for r in replies) and replies[0]["outcome"] == "accepted"
    audit = await client.app[keys.STORE].list_audit()
    assert sum(1 for a in audit if a.kind == "scan" and a.detail["id"] == "dup") == 1


async def test_sync_annul_search(client: TestClient) -> None:
    staff = await connect(client, "staff")
    t = time.time() - 120
    items = [
        {**scan(client, "T000"), "id": "o1", "scanned_at": t},
        {**scan(client, "T000", direction="out"), "id": "o2", "scanned_at": t + 60},
        {"id": "o3", "code": 5},
    ]
    res = await staff.call({"type": "sync", "id": "up-1", "scans": items})
    assert res["type"] == "sync.result"
    assert [x.get("outcome") for x in res["results"]] == ["accepted", "accepted", None]
    assert res["results"][0]["first_seen_at"] == t and res["results"][2]["code"] == "bad_message"
    # the upload retried (the answer was lost): the same answer, audited once
    assert await staff.call({"type": "sync", "id": "up-1", "scans": items}) == res
    audit = await client.app[keys.STORE].list_audit()
    assert [a.detail["id"] for a in audit if a.kind == "sync"] == ["up-1"]
    assert sum(1 for a in audit if a.kind == "scan" and a.detail["id"] in ("o1", "o2")) == 2
    # annul: other device refused, same device accepted, then the person can enter again
    await staff.call(scan(client, "T001", id="enter"))
    other = await connect(client, "staff", device="door-Z")
    assert (await other.call({"type": "annul", "scan_id": "enter"}))["code"] == "not_found"
    # Another token calling itself by the same device name is still another device.
    namesake = await connect(client, "staff", device="door-A-1")
    assert (await namesake.call({"type": "annul", "scan_id": "enter"}))["code"] == "not_found"
    assert (await staff.call({"type": "annul", "scan_id": "nope"}))["code"] == "not_found"
    done = await staff.call({"type": "annul", "scan_id": "enter"})
    assert done["type"] == "annul.result" and done["outcome"] == "annulled"
    assert (await staff.call(scan(client, "T001")))["outcome"] == "accepted"
    kinds = {a.kind for a in await client.app[keys.STORE].list_audit()}
    assert {"scan", "sync", "annul", "token_use"} <= kinds
    found = await staff.call({"type": "search", "query": "trainee 1"})
    assert [p["id"] for p in found["participants"]] == ["T001"]
    assert "code" not in found["participants"][0]  # never a badge code (test_ws_search)


async def test_a_sockets_syncs_and_scans_are_decided_in_the_order_sent(
    client_on_each_store: TestClient,
) -> None:
    """A scanner back online uploads its queue in several syncs and goes on scanning
    without waiting: everything it sent is decided in the order sent (a sync's token
    look-up must not let a later frame overtake it). Out of order, an exit would be
    decided before its entry (not_inside) or an entry while inside (already_inside)."""
    client = client_on_each_store
    staff = await connect(client, "staff")
    t = time.time() - 600
    frames: list[dict[str, Any]] = []
    for n, pid in enumerate(p.id for p in PEOPLE):
        for k, (direction, at) in enumerate((("in", t), ("out", t + 100), ("in", t + 200))):
            item = {**scan(client, pid, direction=direction), "id": f"q{k}-{pid}"}
            frames.append({"type": "sync", "id": f"up{k}-{pid}", "scans": [item]})
            item["scanned_at"] = at + n
        frames.append({**scan(client, pid, direction="out"), "id": f"live-{pid}"})
    answers = await staff.pipeline(frames, wait=10)
    outcomes = {
        re: a["results"][0]["outcome"] if a["type"] == "sync.result" else a["outcome"]
        for re, a in answers.items()
    }
    assert outcomes == {str(f["id"]): "accepted" for f in frames}


@pytest.mark.parametrize("first", ["door-a", "door-b"])
async def test_offline_queues_from_two_doors_count_the_same_whichever_uploads_first(
    client_on_each_store: TestClient, small_event: Event, first: str
) -> None:
    """Both doors offline. Door A: in at t, in again at t+300 (already inside, as far as
    A knows); door B: out at t+150. Whichever queue reaches the server first, the trainee
    was in the room t..t+150 and from t+300 on."""
    client = client_on_each_store
    s1 = small_event.session("s1")
    assert s1 is not None
    t = s1.start_ts + 10
    queues = {
        "door-a": [
            {**scan(client, "T000"), "id": "a1", "scanned_at": t},
            {**scan(client, "T000"), "id": "a2", "scanned_at": t + 300},
        ],
        "door-b": [{**scan(client, "T000", direction="out"), "id": "b1", "scanned_at": t + 150}],
    }
    for device in sorted(queues, key=lambda d: d != first):
        staff = await connect(client, "staff", device=device)
        await staff.call({"type": "sync", "id": f"up-{device}", "scans": queues[device]})
    assert t + 500 < time.time()  # every scan in the past (s1 began 10 minutes ago)
    _, _, table = await client.app[keys.ATTENDANCE].report(t + 500)
    assert table["T000"]["s1"].room_s == pytest.approx(150 + 200)


async def test_an_annul_sent_right_after_its_scan_finds_it(client: TestClient) -> None:
    """A scanner may annul without waiting for the scan's answer (a mistaken tap undone
    at once), also a scan it just uploaded in a sync: the annul waits for that answer."""
    staff = await connect(client, "staff")
    queued = {**scan(client, "T001"), "id": "q1", "scanned_at": time.time() - 60}
    frames = [
        {**scan(client, "T000"), "id": "oops"},
        {"type": "annul", "id": "undo", "scan_id": "oops"},
        {"type": "sync", "id": "up", "scans": [queued]},
        {"type": "annul", "id": "undo-q1", "scan_id": "q1"},
    ]
    got = await staff.pipeline(frames)
    assert got["oops"]["outcome"] == "accepted"
    assert got["undo"]["type"] == "annul.result" and got["undo"]["outcome"] == "annulled"
    assert got["undo-q1"]["type"] == "annul.result" and got["undo-q1"]["outcome"] == "annulled"
    assert [s.annulled for s in await client.app[keys.STORE].list_scans()] == [True, True]


async def test_an_annul_waiting_for_its_scan_survives_the_scan_sent_again(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scan, annul it before the answer, then the scan sent again with its id (a retry,
    or an offline queue's copy in a sync): the annul is still answered, once the scan
    is recorded, and it annuls it."""
    slow_commits(client, monkeypatch, 0.3)
    for again in ("scan", "sync"):
        staff = await connect(client, "staff", device=f"door-{again}")
        frame = {**scan(client, "T000"), "id": "oops"}
        retry: dict[str, Any] = frame
        if again == "sync":
            retry = {"type": "sync", "id": "up", "scans": [frame]}
        await staff.ws.send_str(json.dumps(frame))
        await asyncio.sleep(0.05)
        await staff.ws.send_str(json.dumps({"type": "annul", "id": "undo", "scan_id": "oops"}))
        await asyncio.sleep(0.05)  # the annul waits for the scan's answer
        await staff.ws.send_str(json.dumps(retry))
        got: dict[str, dict[str, Any]] = {}
        while "undo" not in got or "oops" not in got:
            data = json.loads(await staff.ws.receive_str(timeout=5))
            got[data["re"]] = data
        assert got["undo"]["type"] == "annul.result" and got["undo"]["outcome"] == "annulled"
        await staff.ws.close()
    assert [s.annulled for s in await client.app[keys.STORE].list_scans()] == [True, True]


async def test_a_revoked_token_is_refused_its_future_dated_scans_and_syncs(
    client: TestClient,
) -> None:
    """Answers given without a commit (a scan dated too far ahead) and uploads look up
    the token first: revoked elsewhere (the CLI, another node), they are refused 4401 and
    nothing is audited as theirs."""
    for frame in (
        {**scan(client, "T000"), "id": "ahead", "scanned_at": time.time() + 3600},
        {"type": "sync", "id": "up", "scans": [{**scan(client, "T000"), "id": "q"}]},
    ):
        token = issue_token(client, "staff")
        door = await connect(client, "staff", token=token)
        jti = client.app[keys.TOKENS].verify(token, now=time.time()).jti
        await client.app[keys.STORE].revoke("token", jti, time.time())
        await door.ws.send_str(json.dumps(frame))
        messages, msg = await until_closed(door.ws)
        assert [(m["type"], m.get("code"), m.get("re")) for m in messages] == [
            ("error", "forbidden", frame["id"])
        ]
        assert msg.type == WSMsgType.CLOSE and msg.data == 4401
        audit = await client.app[keys.STORE].list_audit()
        assert [a.kind for a in audit if a.actor == jti] == ["token_use", "token_refused"]


async def test_a_scan_dated_ahead_of_the_server_clock_is_refused(client: TestClient) -> None:
    """An offline scan dated more than MAX_CLOCK_SKEW_S ahead is not recorded "now": the
    scanner is told its clock is wrong; a few seconds ahead is forgiven (dated now)."""
    staff = await connect(client, "staff")
    ahead = await staff.call({**scan(client, "T000"), "scanned_at": time.time() + 3600})
    assert ahead["type"] == "error" and ahead["code"] == "bad_message"
    assert "ahead of the server clock" in ahead["message"]
    items = [
        {**scan(client, "T000"), "id": "far", "scanned_at": time.time() + 3600},
        {**scan(client, "T001"), "id": "near", "scanned_at": time.time() + 60},
    ]
    res = await staff.call({"type": "sync", "id": "up", "scans": items})
    assert res["results"][0]["code"] == "bad_message" and res["results"][0]["re"] == "far"
    assert res["results"][1]["outcome"] == "accepted"
    scans = await client.app[keys.STORE].list_scans()
    assert [(x.participant_id, x.scan_id) for x in scans] == [("T001", "near")]
    assert scans[0].at <= time.time()


async def test_the_dashboard_empties_the_room_when_the_session_ends(
    aiohttp_client: Any, make_config: Callable[..., Config], small_event: Event
) -> None:
    """Few trainees scan out as a session ends: once it is over nobody is shown in the
    room, pushed to the dashboards then, not at the next scan; attended stays."""
    later = [0.0]
    app = create_app(make_config(), event=small_event, clock=lambda: time.time() + later[0])
    client = await started(await aiohttp_client(app))
    staff = await connect(client, "staff")
    assert (await staff.call(scan(client, "T000")))["outcome"] == "accepted"
    org = await connect(client, "organizer")
    snap = await org.call({"type": "subscribe", "session": "s1"})
    assert snap["sessions"]["s1"]["inside"] == 1
    s1 = small_event.session("s1")
    assert s1 is not None
    later[0] = s1.end_ts + 1 - time.time()
    upd = await org.next_of("update", wait=5)
    assert upd["sessions"]["s1"]["inside"] == 0 and upd["sessions"]["s1"]["attended"] == 1


async def test_roles_and_hostile_input(client: TestClient) -> None:
    trainee = await connect(client, "trainee", participant="T000", device="")
    assert (await trainee.call(scan(client, "T000")))["code"] == "forbidden"
    assert (await trainee.call({"type": "subscribe"}))["code"] == "forbidden"
    p = await trainee.call({"type": "presence", "session": "s1", "state": "watching"})
    assert p["type"] == "presence.result" and p["counted"] is False
    assert (await trainee.call({"type": "presence", "session": "s1", "state": "dancing"}))[
        "code"
    ] == "bad_message"
    assert (await trainee.call({"type": "warp"}))["code"] == "unknown_type"
    await trainee.ws.send_str("{not json")
    assert (await trainee.reply(None))["code"] == "bad_message"
    await trainee.ws.send_bytes(b"\x00\x01")
    assert (await trainee.reply(None))["code"] == "bad_message"
    # still alive
    assert (await trainee.call({"type": "ping"}))["type"] == "pong"
    # a frame over 64 KiB closes with 1009
    await trainee.ws.send_str(json.dumps({"type": "ping", "id": "x", "pad": "a" * 70_000}))
    msg = await trainee.ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and trainee.ws.close_code == 1009


async def test_a_client_flooding_far_past_its_limit_is_closed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused `rate_limited` frame after frame and still sending: closed 1008 and its
    frames no longer read, while other clients go on -- after the answers to the scans
    it had recorded went out (commits slowed down, so some are in flight at the close)."""
    from podium_server.attendance.connection_rules import BURST, FLOOD_REFUSALS_BURST

    slow_commits(client, monkeypatch, 0.3)

    bystander = await connect(client, "staff", device="door-B")
    flood = await connect(client, "staff", device="flood")
    sent = int(BURST + FLOOD_REFUSALS_BURST) * 2
    messages: list[dict[str, Any]] = []
    reading = asyncio.create_task(until_closed(flood.ws, messages))  # the flood not slowed
    scans = [scan(client, f"T00{n}") for n in range(3)]
    with contextlib.suppress(ConnectionError):
        for n in range(sent):
            direction = ("in", "out")[n // 3 % 2]
            frame = {**scans[n % 3], "direction": direction, "id": f"f{n}"}
            await flood.ws.send_str(json.dumps(frame))
    _, msg = await reading
    assert msg.type == WSMsgType.CLOSE and msg.data == WSCloseCode.POLICY_VIOLATION
    assert messages[-1]["message"] == "flooding: closed"
    assert len(messages) < sent  # not every frame answered
    answered = {m["re"] for m in messages if m["type"] == "scan.result"}
    await asyncio.sleep(0.5)  # any commit still on its way lands
    audit = await client.app[keys.STORE].list_audit(limit=100_000)
    recorded = {a.detail["id"] for a in audit if a.kind == "scan" and "flood" in a.device}
    assert answered and answered == recorded  # every recorded scan was answered
    assert (await bystander.call({"type": "ping"}))["type"] == "pong"


async def test_flood_is_rate_limited(client: TestClient) -> None:
    staff = await connect(client, "staff")
    for i in range(600):
        await staff.ws.send_str(json.dumps({"type": "ping", "id": f"f{i}"}))
    codes = []
    for _ in range(600):
        data = json.loads(await staff.ws.receive_str(timeout=5))
        codes.append(data.get("code", data["type"]))
    assert "rate_limited" in codes and "pong" in codes
    # malformed frames count against the same budget: a flood of them is not answered in full
    from podium_server.attendance.connection_rules import BURST, RATE_PER_S

    junk = await connect(client, "staff", device="junk")
    began = time.monotonic()
    for _ in range(1200):
        await junk.ws.send_str("x")
    codes = []
    for _ in range(1200):
        data = json.loads(await junk.ws.receive_str(timeout=5))
        codes.append(data["code"])
    took = time.monotonic() - began
    assert set(codes) == {"bad_message", "rate_limited"}
    assert codes.count("bad_message") <= BURST + RATE_PER_S * took
    # binary frames as well
    raw = await connect(client, "staff", device="binary")
    began = time.monotonic()
    for _ in range(1200):
        await raw.ws.send_bytes(b"x")
    codes = [json.loads(await raw.ws.receive_str(timeout=5))["code"] for _ in range(1200)]
    took = time.monotonic() - began
    assert set(codes) == {"bad_message", "rate_limited"}
    assert codes.count("bad_message") <= BURST + RATE_PER_S * took


async def test_dashboard_snapshot_and_updates(client: TestClient) -> None:
    org = await connect(client, "organizer", device="dash")
    snap = await org.call({"type": "subscribe", "session": "s1"})
    assert snap["type"] == "snapshot"
    s1 = snap["sessions"]["s1"]
    assert (s1["registered"], s1["inside"], s1["online"], s1["attended"]) == (3, 0, 0, 0)
    staff = await connect(client, "staff")
    await staff.call(scan(client, "T000"))
    await staff.call(scan(client, "T001"))
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
    await client.app[keys.WATCH_SINK].record_watch(
        WatchInterval("s1", "T000", "w1", now - 30, now, True)
    )
    await client.app[keys.WATCH_SINK].record_watch(
        WatchInterval("s1", "T002", "w2", now - 30, now, True)
    )
    while not (seen.get("online") == 2 and seen.get("attended") == 3):
        seen = (await org.next_of("update"))["sessions"]["s1"]
    # coalesced: a burst of scans yields few updates, at most 10 a second
    for i in range(30):
        await staff.ws.send_str(
            json.dumps({**scan(client, "T002", direction="out" if i % 2 else "in"), "id": f"b{i}"})
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


async def test_dashboard_update_leads_after_a_quiet_spell(client: TestClient) -> None:
    """<= 10 updates a second, but a change after >= 100 ms of quiet goes out at once
    (leading edge): it does not wait for a slot."""
    org = await connect(client, "organizer", device="dash")
    await org.call({"type": "subscribe", "session": "s1"})
    staff = await connect(client, "staff")
    delays = []
    for i in range(3):
        await asyncio.sleep(0.4)  # quiet: the last update is >= 100 ms old
        reply = await staff.call(
            scan(client, "T000", direction="in" if i % 2 == 0 else "out", id=f"q{i}")
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
    client = await started(await aiohttp_client(create_app(make_config(), event=both_live)))
    hall_dash = await connect(client, "organizer", device="hall-dash")
    await hall_dash.call({"type": "subscribe", "session": "s1"})
    side_dash = await connect(client, "organizer", device="side-dash")
    await side_dash.call({"type": "subscribe", "session": "s2"})
    busy = await connect(client, "staff", device="hall-door")
    quiet = await connect(client, "staff", device="side-door")
    stop = asyncio.Event()

    async def keep_the_hall_busy() -> None:
        n = 0
        while not stop.is_set():
            direction = "in" if n % 2 == 0 else "out"
            await busy.call({**scan(client, "T001", direction=direction), "id": f"h{n}"})
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
            await quiet.call({**scan(client, "T002", "s2", direction), "id": rid})
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


async def test_two_nodes_on_one_redis(
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    small_event: Event,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """A scan on node A appears on a dashboard subscribed on node B (Redis pub/sub)."""
    secret = tmp_path / "shared.key"
    a = await aiohttp_client(
        create_app(make_config(store=redis_url, secret_file=secret, node_id="a"), event=small_event)
    )
    b = await aiohttp_client(
        create_app(make_config(store=redis_url, secret_file=secret, node_id="b"), event=small_event)
    )
    await started(a)
    org = await connect(b, "organizer", device="dash-b")
    snap = await org.call({"type": "subscribe"})
    assert snap["sessions"]["s1"]["inside"] == 0
    token = issue_token(a, "staff")
    staff = await connect(a, "staff", token=token)
    assert (await staff.call({**scan(a, "T000"), "id": "x1"}))["outcome"] == "accepted"
    upd = await org.next_of("update", wait=5)
    assert upd["sessions"]["s1"]["inside"] == 1
    assert upd["sessions"]["s1"]["recent"][0]["participant"] == "T000"
    # the same request retried on the other node: same answer, recorded once
    staff_b = await connect(b, "staff", token=token)  # the same scanner, failed over to B
    again = await staff_b.call({**scan(b, "T000"), "id": "x1"})
    assert again["outcome"] == "accepted"
    audit = await b.app[keys.STORE].list_audit()
    assert sum(1 for x in audit if x.kind == "scan" and x.detail["id"] == "x1") == 1
    # Redis drops B's pub/sub connection (a restart, a failover): B subscribes again and
    # refreshes its dashboards, and A's next scans reach them as before
    import redis.asyncio as aioredis

    admin = aioredis.from_url(redis_url)
    try:
        assert await admin.client_kill_filter(_type="pubsub") >= 2
    finally:
        await admin.aclose()
    upd = await org.next_of("update", wait=10)  # the refresh after re-subscribing
    assert upd["sessions"]["s1"]["inside"] == 1
    assert (await staff.call(scan(a, "T001")))["outcome"] == "accepted"
    for _ in range(5):
        upd = await org.next_of("update", wait=10)
        if upd["sessions"]["s1"]["inside"] == 2:
            break
    assert upd["sessions"]["s1"]["inside"] == 2


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_node_answering_from_a_stale_cache_decides_again(
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    small_event: Event,
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """Nodes answer scans from their cache of each trainee's ledger without reading it;
    when another node (or another process on the same file) moved the ledger on, the
    commit refuses the answer and the scan is decided again on the fresh ledger."""
    store = (
        str(request.getfixturevalue("redis_url"))
        if backend == "redis"
        else f"sqlite:///{tmp_path}/shared.db"
    )
    secret = tmp_path / "shared.key"
    a, b = [
        await aiohttp_client(
            create_app(make_config(store=store, secret_file=secret, node_id=n), event=small_event)
        )
        for n in ("a", "b")
    ]
    await started(a)
    at_a = await connect(a, "staff", device="door-a")
    at_b = await connect(b, "staff", device="door-b")
    assert (await at_a.call(scan(a, "T001")))["outcome"] == "accepted"  # A caches: inside
    assert (await at_b.call(scan(b, "T001", direction="out")))["outcome"] == "accepted"
    # A's copy still says inside (already_inside); the commit sees B's exit: decided again
    assert (await at_a.call(scan(a, "T001")))["outcome"] == "accepted"
    assert (await at_a.call(scan(a, "T001")))["outcome"] == "already_inside"
    scans = await a.app[keys.STORE].list_scans()
    # (the already_inside read at the same door right after is a repeat: not kept)
    assert [(x.direction, x.device.split("@")[0]) for x in scans] == [
        ("in", "door-a"),
        ("out", "door-b"),
        ("in", "door-a"),
    ]


# -- fuzz: whatever arrives, the connection answers and the server stays up ------------------

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=12,
)
fuzz_message = st.one_of(
    st.text(max_size=60),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["scan", "sync", "annul", "search", "presence", "subscribe", "ping", "zz"]
            )
        },
        optional={
            "id": st.text(min_size=1, max_size=8) | json_any,
            "code": st.text(max_size=20) | json_any,
            "participant": st.sampled_from(["T000", "nobody"]) | json_any,
            "session": st.sampled_from(["s1", "s2", "nope"]) | json_any,
            "direction": st.sampled_from(["in", "out"]) | json_any,
            "scanned_at": st.floats() | json_any,
            "scans": st.lists(json_any, max_size=3),
            "query": json_any,
            "state": json_any,
            "scan_id": json_any,
        },
    ).map(json.dumps),
)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages=st.lists(fuzz_message, min_size=1, max_size=40))
def test_fuzz_message_handler(
    tmp_path_factory: pytest.TempPathFactory, small_event: Event, messages: list[str]
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = Config(store=f"sqlite:///{tmp}/f.db", secret_file=tmp / "k", demo_stream=False)

    async def main() -> None:
        async with TestClient(TestServer(create_app(config, event=small_event))) as client:
            await started(client)
            peer = await connect(client, "staff")
            for text in messages:
                await peer.ws.send_str(text)
            await peer.ws.send_str(json.dumps({"type": "ping", "id": "last-one"}))
            replies = 0
            while True:
                data = json.loads(await peer.ws.receive_str(timeout=10))
                replies += 1
                assert data["type"] in (
                    "error",
                    "scan.result",
                    "sync.result",
                    "annul.result",
                    "search.result",
                    "pong",
                    "snapshot",  # staff may follow a session they scan
                    "update",
                )
                if data["type"] == "error":
                    assert data["code"] in (
                        "bad_message",
                        "unknown_type",
                        "forbidden",
                        "not_found",
                        "rate_limited",
                    )
                if data.get("re") == "last-one" and data["type"] == "pong":
                    break
            assert replies >= 1
            # the store is intact and still answers
            assert await client.app[keys.STORE].ping()

    asyncio.run(main())


async def test_a_token_revoked_anywhere_stops_its_very_next_request(client: TestClient) -> None:
    """Revoked through a store of its own (the CLI, another node) and used at once: a
    scan is refused by its commit, any other request by its own check; each socket says
    so and closes 4401, and the refused scan leaves no trace."""
    from podium_server.store.factory import open_store

    token = issue_token(client, "staff")
    door = await connect(client, "staff", device="door-A-1", token=token)
    desk = await connect(client, "staff", device="desk", token=token)
    assert (await door.call(scan(client, "T002")))["outcome"] == "accepted"
    jti = client.app[keys.TOKENS].verify(token, now=time.time()).jti
    cli = open_store(client.app[keys.CONFIG].store)
    await cli.open()
    try:
        await cli.revoke("token", jti, time.time())
    finally:
        await cli.close()
    after_scan = {**scan(client, "T003"), "id": "after-revoke"}
    after_search = {"type": "search", "id": "q-after", "query": "T00"}
    for peer, request in ((door, after_scan), (desk, after_search)):
        await peer.ws.send_str(json.dumps(request))
        reply = json.loads(await peer.ws.receive_str(timeout=5))
        assert reply == {
            "type": "error",
            "re": request["id"],
            "code": "forbidden",
            "message": "revoked token",
        }
        closing = await peer.ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401
    audit = await client.app[keys.STORE].list_audit()
    scans = [a.detail["id"] for a in audit if a.kind == "scan"]
    assert "after-revoke" not in scans and len(scans) == 1
    refusals = sorted(a.device for a in audit if a.kind == "token_refused" and a.actor == jti)
    assert refusals == [f"desk@{jti[:8]}", f"door-A-1@{jti[:8]}"]  # each refused use is kept


async def test_a_revoked_token_sending_junk_is_stopped_too(client: TestClient) -> None:
    """Frames that are no request (malformed, unknown, binary) get no store check of
    their own; the node's copy of the revoked set still stops them within a second."""
    from podium_server.attendance.connection_rules import AUTH_RECHECK_S

    junk: list[str | bytes] = ["not json", json.dumps({"type": "nope", "id": "u"}), b"\x00"]
    for frame in junk:
        token = issue_token(client, "staff")
        peer = await connect(client, "staff", token=token)
        jti = client.app[keys.TOKENS].verify(token, now=time.time()).jti
        await client.app[keys.STORE].revoke("token", jti, time.time())
        await asyncio.sleep(AUTH_RECHECK_S + 0.1)
        if isinstance(frame, bytes):
            await peer.ws.send_bytes(frame)
        else:
            await peer.ws.send_str(frame)
        reply = json.loads(await peer.ws.receive_str(timeout=5))
        assert (reply["code"], reply["message"]) == ("forbidden", "revoked token")
        closing = await peer.ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401


async def test_requests_go_on_when_the_revocation_read_fails(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's own revocation read failing (the store unreachable a moment) falls
    back on the node's copy of the revoked set instead of failing the request."""
    peer = await connect(client, "staff")
    store = client.app[keys.STORE]

    async def unreachable(kind: str, value: str) -> bool:
        raise ConnectionError("store unreachable")

    monkeypatch.setattr(store, "is_revoked", unreachable)
    assert (await peer.call({"type": "ping"}))["type"] == "pong"
    found = await peer.call({"type": "search", "query": "T00"})
    assert found["type"] == "search.result" and found["participants"]


async def test_a_silent_connection_is_pinged_and_dropped_if_it_never_answers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers a client's ping; after HEARTBEAT_S of silence it pings, keeps
    a client that answers and drops one that does not (a scanner gone off the Wi-Fi)."""
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HEARTBEAT_S", 0.4)
    alive = await connect(client, "staff", device="door-alive")
    mute_ws = await client.ws_connect("/ws", autoping=False)
    hello = {"type": "hello", "token": issue_token(client, "staff"), "device": "door-mute"}
    assert (await Peer(mute_ws).call(hello))["type"] == "welcome"
    await mute_ws.ping(b"are you there")
    pong = await mute_ws.receive(timeout=2)
    assert pong.type == WSMsgType.PONG and pong.data == b"are you there"
    # aiohttp's client answers pings while it reads: the alive one reads, the mute one
    # only looks at what comes (no autoping) and never answers
    reading = asyncio.create_task(alive.ws.receive(timeout=10))
    seen = []
    while True:
        msg = await mute_ws.receive(timeout=5)
        seen.append(msg.type)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
    assert seen[0] == WSMsgType.PING and seen[-1] != WSMsgType.PING
    await asyncio.sleep(0.6)  # silence longer than a ping's deadline
    assert not reading.done()
    await alive.ws.send_str(json.dumps({"type": "ping", "id": "still-here"}))
    reply = await reading
    assert reply.type == WSMsgType.TEXT and json.loads(reply.data)["re"] == "still-here"


async def test_a_live_client_is_kept_while_its_request_takes_long(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow answer (a store that stalls) is no silence: the client answering pings
    meanwhile stays connected and gets its answer."""
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HEARTBEAT_S", 0.4)
    service = client.app[keys.ATTENDANCE]
    search = service.search

    async def slow_search(query: str, scanner: Any) -> list[dict[str, Any]]:
        await asyncio.sleep(1.2)  # three times the heartbeat
        return await search(query, scanner)

    monkeypatch.setattr(service, "search", slow_search)
    staff = await connect(client, "staff")
    found = await staff.call({"type": "search", "query": "T00"})
    assert found["type"] == "search.result" and found["participants"]


def raw_ws(port: int, receive_buffer: int = 4096) -> socket.socket:
    """A bare WebSocket client socket after its handshake, with a small receive buffer:
    a peer that stops reading is soon one the server cannot write to."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.2) of less than 64 KiB."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    size = bytes((0x80 | n,)) if n < 126 else bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    return bytes((0x80 | opcode,)) + size + mask + body


def ping_until_blocked(sock: socket.socket) -> int:
    """Pings, never reading the pongs, until the server stops reading them in turn."""
    sock.settimeout(0.5)
    frame, sent = client_frame(0x9, b"p" * 125), 0
    with contextlib.suppress(TimeoutError, OSError):
        while True:
            sock.sendall(frame)
            sent += 1
    return sent


@pytest.mark.parametrize("after_hello", [False, True])
async def test_a_peer_that_reads_nothing_is_cut(
    after_hello: bool, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that floods pings and never reads the pongs: the server's writes back
    up, so a polite close would wait for ever to flush them. Past the hello deadline or
    the heartbeat, the connection is cut and its handler ends."""
    from podium_server.web import ws as ws_module

    for name, value in (("HELLO_TIMEOUT_S", 0.3), ("HEARTBEAT_S", 0.4), ("STUCK_CLOSE_S", 0.4)):
        monkeypatch.setattr(ws_module, name, value)
    token = issue_token(client, "staff")

    def flood() -> tuple[socket.socket, int]:
        sock = raw_ws(client.server.port)
        if after_hello:
            hello = {"type": "hello", "id": "h", "token": token, "device": "d"}
            sock.sendall(client_frame(0x1, json.dumps(hello).encode()))
        return sock, ping_until_blocked(sock)

    sock, sent = await asyncio.to_thread(flood)
    try:
        assert sent > 10

        def still_held() -> list[Any]:
            return [h for h in client.server.handler.connections if h.transport is not None]

        for _ in range(50):
            if not still_held():
                break
            await asyncio.sleep(0.1)
        assert still_held() == []  # its transport was cut, not left closing for ever
    finally:
        sock.close()


async def test_a_deaf_peer_closed_by_the_heartbeat_is_cut_after_its_handler_ended(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some bytes unsent (less than would stall a write), then silence: the heartbeat
    closes the socket, the handler ends at once, and the transport -- waiting to flush
    to a peer that reads nothing -- is still cut."""
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HEARTBEAT_S", 0.4)
    monkeypatch.setattr(ws_module, "STUCK_CLOSE_S", 0.4)

    def still_held() -> list[Any]:
        return [h for h in client.server.handler.connections if h.transport is not None]

    sock = await asyncio.to_thread(raw_ws, client.server.port)
    try:
        hello = {
            "type": "hello",
            "id": "h",
            "token": issue_token(client, "staff"),
            "device": "deaf",
        }
        sock.sendall(client_frame(0x1, json.dumps(hello).encode()))
        sock.setblocking(False)
        await asyncio.sleep(0.05)
        [handler] = still_held()
        # a small kernel buffer on the server's side too: it soon holds bytes back
        server_side = handler.transport.get_extra_info("socket")
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for _ in range(500):  # pings until the server holds an unsent pong
            if handler.transport.get_write_buffer_size() > 0:
                break
            with contextlib.suppress(BlockingIOError):
                sock.send(client_frame(0x9, b"p" * 125) * 20)
            await asyncio.sleep(0.01)
        assert handler.transport.get_write_buffer_size() > 0
        for _ in range(50):
            if not still_held():
                break
            await asyncio.sleep(0.1)
        assert still_held() == []
    finally:
        sock.close()


async def test_a_sync_recorded_before_the_token_was_revoked_is_answered_before_the_close(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:

    service = client.app[keys.ATTENDANCE]
    sync = service.sync

    recorded = asyncio.Event()

    async def slow_answer(request: Any, scanner: Any, answers: Any = None) -> dict[str, Any]:
        answer = await sync(request, scanner, answers)  # recorded and audited
        recorded.set()
        await asyncio.sleep(0.5)  # the answer still on its way
        return answer

    monkeypatch.setattr(service, "sync", slow_answer)
    token = issue_token(client, "staff")
    peer = await connect(client, "staff", token=token)
    queued = [
        {**scan(client, p, scanned_at=time.time() - 30), "id": f"o{p}"} for p in ("T000", "T001")
    ]
    await peer.ws.send_str(json.dumps({"type": "sync", "id": "up1", "scans": queued}))
    # Revoked once the sync is recorded (not after a fixed pause: a loaded machine may
    # take longer to record it, and a revocation before the commit refuses the sync).
    await asyncio.wait_for(recorded.wait(), 10)
    jti = client.app[keys.TOKENS].verify(token, now=time.time()).jti
    await client.app[keys.STORE].revoke("token", jti, time.time())
    await peer.ws.send_str(json.dumps({"type": "search", "id": "q", "query": "T0"}))
    messages, msg = await until_closed(peer.ws)
    assert [(m["type"], m.get("re")) for m in messages] == [("sync.result", "up1"), ("error", "q")]
    assert msg.type == WSMsgType.CLOSE and msg.data == 4401


async def test_shutdown_says_goodbye_to_everyone_though_one_peer_reads_nothing(
    make_config: Callable[..., Config], small_event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "STUCK_CLOSE_S", 0.5)
    client = TestClient(TestServer(create_app(make_config(), event=small_event)))
    await client.start_server()
    await started(client)
    token = issue_token(client, "staff")
    peers = [await connect(client, "staff", device=f"door-{i}") for i in range(4)]

    def flood() -> socket.socket:
        sock = raw_ws(client.server.port)
        hello = {"type": "hello", "id": "h", "token": token, "device": "deaf"}
        sock.sendall(client_frame(0x1, json.dumps(hello).encode()))
        ping_until_blocked(sock)
        return sock

    deaf = await asyncio.to_thread(flood)
    try:
        started_at = time.monotonic()
        await asyncio.wait_for(client.server.close(), 10)  # the server only
        assert time.monotonic() - started_at < 5
        for peer in peers:
            goodbye = await peer.ws.receive(timeout=1)
            assert goodbye.type == WSMsgType.CLOSE and goodbye.data == WSCloseCode.GOING_AWAY
    finally:
        deaf.close()
        await client.close()


async def test_pings_do_not_postpone_the_hello_deadline(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HELLO_TIMEOUT_S", 0.5)
    ws = await client.ws_connect("/ws", autoping=False)
    started = time.monotonic()
    refusal = None
    while time.monotonic() - started < 3 and refusal is None:
        with contextlib.suppress(ConnectionError):
            await ws.ping(b"still here")
        msg = await ws.receive(timeout=2)
        if msg.type == WSMsgType.TEXT:
            refusal = json.loads(msg.data)
        await asyncio.sleep(0.1)
    assert refusal is not None and refusal["message"] == "hello expected"
    assert time.monotonic() - started < 1.5
    closing = await ws.receive(timeout=2)
    assert closing.type == WSMsgType.CLOSE and closing.data == 4401


async def test_a_client_gone_before_hello_is_no_error(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        sock = await asyncio.to_thread(raw_ws, client.server.port)
        sock.sendall(client_frame(0x9, b"x") * 50)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset, while the server answers the pings
    await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_scan_in_flight_when_the_token_expires_is_answered_before_the_close(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    token = str(client.app[keys.TOKENS].issue("staff", now=now - 3600 + 2.0, ttl_s=3600))
    # expires in 1-2 s (token times are whole seconds)
    exp = client.app[keys.TOKENS].verify(token, now=now).exp
    staff = await connect(client, "staff", token=token)
    slow_commits(client, monkeypatch, exp - time.time() + 0.5)  # in flight past the expiry
    await staff.ws.send_str(json.dumps({**scan(client, "T000"), "id": "before"}))
    assert time.time() < exp - 0.2, "the test machine is too slow for this test's margins"
    await asyncio.sleep(max(0.0, exp + 0.2 - time.time()))  # expired; the scan in flight
    await staff.ws.send_str(json.dumps({"type": "ping", "id": "after"}))
    messages, msg = await until_closed(staff.ws)
    seen = [(m["type"], m.get("re"), m.get("message")) for m in messages]
    assert seen == [("scan.result", "before", None), ("error", "after", "expired token")]
    assert msg.type == WSMsgType.CLOSE and msg.data == 4401


async def test_a_listening_dashboard_is_stopped_when_its_token_expires_or_is_revoked(
    client: TestClient,
) -> None:
    from podium_server.attendance.connection_rules import AUTH_RECHECK_S

    staff = await connect(client, "staff")
    now = time.time()
    short = str(client.app[keys.TOKENS].issue("organizer", now=now - 3600 + 2, ttl_s=3600))
    expiring = await connect(client, "organizer", device="dash-1", token=short)
    revoked_token = issue_token(client, "organizer")
    revoked = await connect(client, "organizer", device="dash-2", token=revoked_token)
    for dash in (expiring, revoked):
        assert (await dash.call({"type": "subscribe", "session": "s1"}))["type"] == "snapshot"
    jti = client.app[keys.TOKENS].verify(revoked_token, now=now).jti
    await client.app[keys.STORE].revoke("token", jti, now)
    await asyncio.sleep(max(2.2 - (time.time() - now), AUTH_RECHECK_S + 0.1))
    assert (await staff.call(scan(client, "T000")))["outcome"] == "accepted"
    for dash, reason in ((expiring, "expired token"), (revoked, "revoked token")):
        reply = json.loads(await dash.ws.receive_str(timeout=5))
        assert reply["type"] == "error" and reply["message"] == reason  # not an update
        closing = await dash.ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_bursts_over_overlapping_batches_keep_each_ledger_consistent(
    backend: str,
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    small_event: Event,
    request: pytest.FixtureRequest,
) -> None:
    """Scans of the same few trainees sent without waiting from several doors: they land
    in batches that are looked up, decided and committed while others are (Redis keeps
    several lookups and commits outstanding). Each request gets one answer, each is
    audited once, and every trainee's accepted scans alternate in / out."""
    store = request.getfixturevalue("redis_url") if backend == "redis" else None
    config = make_config(**({"store": store} if store else {}))
    client = await started(await aiohttp_client(create_app(config, event=small_event)))
    doors = [await connect(client, "staff", device=f"door-{d}") for d in range(4)]
    codes = {p.id: badge(client, p.id) for p in PEOPLE}
    per_door = 60
    for d, door in enumerate(doors):
        for n in range(per_door):
            pid = PEOPLE[(n + d) % len(PEOPLE)].id
            msg = {
                "type": "scan",
                "id": f"d{d}n{n}",
                "code": codes[pid],
                "session": "s1",
                "direction": "in" if (n // len(PEOPLE)) % 2 == 0 else "out",
            }
            await door.ws.send_str(json.dumps(msg))
    answers: dict[str, str] = {}
    for d, door in enumerate(doors):
        while sum(1 for k in answers if k.startswith(f"d{d}n")) < per_door:
            data = json.loads(await door.ws.receive_str(timeout=10))
            assert data["type"] == "scan.result", data
            assert data["re"] not in answers, "answered twice"
            answers[data["re"]] = data["outcome"]
    assert set(answers.values()) <= {"accepted", "already_inside", "not_inside"}
    store_ = client.app[keys.STORE]
    audit = [a.detail["id"] for a in await store_.list_audit(limit=10_000) if a.kind == "scan"]
    assert sorted(audit) == sorted(answers)  # every request audited exactly once
    scans = await store_.list_scans()
    assert sorted(s.scan_id for s in scans) == sorted(
        rid for rid, outcome in answers.items() if outcome == "accepted"
    )
    for person in PEOPLE:
        mine = sorted((s for s in scans if s.participant_id == person.id), key=lambda s: s.seq)
        assert [s.direction for s in mine] == ["in", "out"] * (len(mine) // 2) + ["in"] * (
            len(mine) % 2
        ), person.id
        assert [s.seq for s in mine] == list(range(1, len(mine) + 1))


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_text_frame_follows_rfc_6455(size: int) -> None:
    """FIN + text opcode, no mask (server to client), the shortest length encoding."""
    from podium_server.web.ws import text_frame

    text = "é" * (size // 2) + "x" * (size % 2)  # `size` bytes of UTF-8
    frame = text_frame(text)
    assert frame[0] == 0x81 and not frame[1] & 0x80
    n, start = frame[1], 2
    if n == 126:
        n, start = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, start = int.from_bytes(frame[2:10], "big"), 10
    assert start == (2 if size < 126 else 4 if size < 65536 else 10)
    assert n == size and frame[start:].decode() == text


async def test_answers_reach_a_client_that_negotiated_compression(client: TestClient) -> None:
    """Answers are written straight to the socket only uncompressed; a browser asks for
    permessage-deflate and must get valid compressed frames the aiohttp way."""
    ws = await client.ws_connect("/ws", compress=15)
    assert ws.compress  # the server agreed to permessage-deflate
    peer = Peer(ws)
    welcome = await peer.call(
        {"type": "hello", "token": issue_token(client, "staff"), "device": "d"}
    )
    assert welcome["type"] == "welcome"
    for n in range(5):
        reply = await peer.call({**scan(client, "T001", direction="in" if n % 2 == 0 else "out")})
        assert reply["outcome"] == "accepted"
