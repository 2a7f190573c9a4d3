"""Door check-in end to end over `/ws`: scan outcomes, retries, offline uploads, annuls,
ordering, several nodes on one store -- a real app and store behind real frames."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from ws_peer import PEOPLE, badge, connect, scan, started

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event
from web_client import issue_token


async def test_scan_outcomes(ws_client: TestClient) -> None:
    staff = await connect(ws_client, "staff")
    r = await staff.call(scan(ws_client, "T000"))
    assert r["type"] == "scan.result" and r["outcome"] == "accepted"
    assert r["participant"]["id"] == "T000" and r["first_seen_at"] > 0
    assert (await staff.call(scan(ws_client, "T000")))["outcome"] == "already_inside"
    assert (await staff.call(scan(ws_client, "T000", direction="out")))["outcome"] == "accepted"
    assert (await staff.call(scan(ws_client, "T000", direction="out")))["outcome"] == "not_inside"
    forged = badge(ws_client, "T001")[:-4] + "AAAA"
    assert (await staff.call({**scan(ws_client, "T001"), "code": forged}))[
        "outcome"
    ] == "invalid_signature"
    assert (await staff.call({**scan(ws_client, "T001"), "code": "hello"}))[
        "outcome"
    ] == "unknown_badge"
    assert (await staff.call(scan(ws_client, "NOBODY")))["outcome"] == "unknown_badge"
    await ws_client.app[keys.STORE].revoke("badge", "T002", time.time())
    assert (await staff.call(scan(ws_client, "T002")))["outcome"] == "revoked"
    assert (await staff.call(scan(ws_client, "T001", session="s2")))["outcome"] == "outside_window"
    assert (await staff.call(scan(ws_client, "T001", session="zz")))["outcome"] == "wrong_session"
    bound = await connect(ws_client, "staff", device="door-B", session="s2")
    assert (await bound.call(scan(ws_client, "T001")))["outcome"] == "wrong_session"


async def test_a_badge_revoked_from_the_command_line_counts_from_the_next_scan(
    ws_client: TestClient,
) -> None:
    """`podium badge revoke` writes through a store of its own, and the server's copy of
    the revoked set is fresh: still the very next scan is refused, and an exit is kept."""
    from podium_server.store.factory import open_store

    staff = await connect(ws_client, "staff")
    assert (await staff.call(scan(ws_client, "T000")))["outcome"] == "accepted"
    assert (await staff.call(scan(ws_client, "T001")))["outcome"] == "accepted"
    cli = open_store(ws_client.app[keys.CONFIG].store)
    await cli.open()
    try:
        await cli.revoke("badge", "T000", time.time())
        await cli.revoke("badge", "T002", time.time())
    finally:
        await cli.close()
    assert (await staff.call(scan(ws_client, "T002")))["outcome"] == "revoked"
    assert (await staff.call(scan(ws_client, "T000")))["outcome"] == "revoked"  # in again
    assert (await staff.call(scan(ws_client, "T000", direction="out")))["outcome"] == "accepted"
    assert (await staff.call(scan(ws_client, "T001", direction="out")))["outcome"] == "accepted"


async def test_retry_same_id_same_answer_recorded_once_across_reconnect(
    ws_client: TestClient,
) -> None:
    token = issue_token(ws_client, "staff")
    staff = await connect(ws_client, "staff", token=token)
    first = await staff.call({**scan(ws_client, "T000"), "id": "scan-42"})
    await staff.ws.close()
    staff = await connect(ws_client, "staff", token=token)  # the same scanner, back again
    again = await staff.call({**scan(ws_client, "T000"), "id": "scan-42"})
    assert again == first and again["outcome"] == "accepted"
    audit = await ws_client.app[keys.STORE].list_audit()
    assert sum(1 for a in audit if a.kind == "scan" and a.detail["id"] == "scan-42") == 1
    # many concurrent copies of one request: one record, one answer
    for _ in range(20):
        await staff.ws.send_str(json.dumps({**scan(ws_client, "T001"), "id": "dup"}))
    replies = [await staff.reply("dup") for _ in range(20)]
    assert all(r == replies[0] for r in replies) and replies[0]["outcome"] == "accepted"
    audit = await ws_client.app[keys.STORE].list_audit()
    assert sum(1 for a in audit if a.kind == "scan" and a.detail["id"] == "dup") == 1


async def test_sync_annul_search(ws_client: TestClient) -> None:
    staff = await connect(ws_client, "staff")
    t = time.time() - 120
    items = [
        {**scan(ws_client, "T000"), "id": "o1", "scanned_at": t},
        {**scan(ws_client, "T000", direction="out"), "id": "o2", "scanned_at": t + 60},
        {"id": "o3", "code": 5},
    ]
    res = await staff.call({"type": "sync", "id": "up-1", "scans": items})
    assert res["type"] == "sync.result"
    assert [x.get("outcome") for x in res["results"]] == ["accepted", "accepted", None]
    assert res["results"][0]["first_seen_at"] == t and res["results"][2]["code"] == "bad_message"
    # the upload retried (the answer was lost): the same answer, audited once
    assert await staff.call({"type": "sync", "id": "up-1", "scans": items}) == res
    audit = await ws_client.app[keys.STORE].list_audit()
    assert [a.detail["id"] for a in audit if a.kind == "sync"] == ["up-1"]
    assert sum(1 for a in audit if a.kind == "scan" and a.detail["id"] in ("o1", "o2")) == 2
    # annul: other device refused, same device accepted, then the person can enter again
    await staff.call(scan(ws_client, "T001", id="enter"))
    other = await connect(ws_client, "staff", device="door-Z")
    assert (await other.call({"type": "annul", "scan_id": "enter"}))["code"] == "not_found"
    # Another token calling itself by the same device name is still another device.
    namesake = await connect(ws_client, "staff", device="door-A-1")
    assert (await namesake.call({"type": "annul", "scan_id": "enter"}))["code"] == "not_found"
    assert (await staff.call({"type": "annul", "scan_id": "nope"}))["code"] == "not_found"
    done = await staff.call({"type": "annul", "scan_id": "enter"})
    assert done["type"] == "annul.result" and done["outcome"] == "annulled"
    assert (await staff.call(scan(ws_client, "T001")))["outcome"] == "accepted"
    kinds = {a.kind for a in await ws_client.app[keys.STORE].list_audit()}
    assert {"scan", "sync", "annul", "token_use"} <= kinds
    found = await staff.call({"type": "search", "query": "trainee 1"})
    assert [p["id"] for p in found["participants"]] == ["T001"]
    assert "code" not in found["participants"][0]  # never a badge code (test_ws_search)


async def test_a_sockets_syncs_and_scans_are_decided_in_the_order_sent(
    ws_client_on_each_store: TestClient,
) -> None:
    """A scanner back online uploads its queue in several syncs and goes on scanning
    without waiting: everything it sent is decided in the order sent (a sync's token
    look-up must not let a later frame overtake it). Out of order, an exit would be
    decided before its entry (not_inside) or an entry while inside (already_inside)."""
    ws_client = ws_client_on_each_store
    staff = await connect(ws_client, "staff")
    t = time.time() - 600
    frames: list[dict[str, Any]] = []
    for n, pid in enumerate(p.id for p in PEOPLE):
        for k, (direction, at) in enumerate((("in", t), ("out", t + 100), ("in", t + 200))):
            item = {**scan(ws_client, pid, direction=direction), "id": f"q{k}-{pid}"}
            frames.append({"type": "sync", "id": f"up{k}-{pid}", "scans": [item]})
            item["scanned_at"] = at + n
        frames.append({**scan(ws_client, pid, direction="out"), "id": f"live-{pid}"})
    answers = await staff.pipeline(frames, wait=10)
    outcomes = {
        re: a["results"][0]["outcome"] if a["type"] == "sync.result" else a["outcome"]
        for re, a in answers.items()
    }
    assert outcomes == {str(f["id"]): "accepted" for f in frames}


@pytest.mark.parametrize("first", ["door-a", "door-b"])
async def test_offline_queues_from_two_doors_count_the_same_whichever_uploads_first(
    ws_client_on_each_store: TestClient, small_event: Event, first: str
) -> None:
    """Both doors offline. Door A: in at t, in again at t+300 (already inside, as far as
    A knows); door B: out at t+150. Whichever queue reaches the server first, the trainee
    was in the room t..t+150 and from t+300 on."""
    ws_client = ws_client_on_each_store
    s1 = small_event.session("s1")
    assert s1 is not None
    t = s1.start_ts + 10
    queues = {
        "door-a": [
            {**scan(ws_client, "T000"), "id": "a1", "scanned_at": t},
            {**scan(ws_client, "T000"), "id": "a2", "scanned_at": t + 300},
        ],
        "door-b": [{**scan(ws_client, "T000", direction="out"), "id": "b1", "scanned_at": t + 150}],
    }
    for device in sorted(queues, key=lambda d: d != first):
        staff = await connect(ws_client, "staff", device=device)
        await staff.call({"type": "sync", "id": f"up-{device}", "scans": queues[device]})
    assert t + 500 < time.time()  # every scan in the past (s1 began 10 minutes ago)
    _, _, table = await ws_client.app[keys.ATTENDANCE].reports.report(t + 500)
    assert table["T000"]["s1"].room_s == pytest.approx(150 + 200)


async def test_a_scan_dated_ahead_of_the_server_clock_is_refused(ws_client: TestClient) -> None:
    """An offline scan dated more than MAX_CLOCK_SKEW_S ahead is not recorded "now": the
    scanner is told its clock is wrong; a few seconds ahead is forgiven (dated now)."""
    staff = await connect(ws_client, "staff")
    ahead = await staff.call({**scan(ws_client, "T000"), "scanned_at": time.time() + 3600})
    assert ahead["type"] == "error" and ahead["code"] == "bad_message"
    assert "ahead of the server clock" in ahead["message"]
    items = [
        {**scan(ws_client, "T000"), "id": "far", "scanned_at": time.time() + 3600},
        {**scan(ws_client, "T001"), "id": "near", "scanned_at": time.time() + 60},
    ]
    res = await staff.call({"type": "sync", "id": "up", "scans": items})
    assert res["results"][0]["code"] == "bad_message" and res["results"][0]["re"] == "far"
    assert res["results"][1]["outcome"] == "accepted"
    scans = await ws_client.app[keys.STORE].list_scans()
    assert [(x.participant_id, x.scan_id) for x in scans] == [("T001", "near")]
    assert scans[0].at <= time.time()


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
    ws_client = await started(await aiohttp_client(create_app(config, event=small_event)))
    doors = [await connect(ws_client, "staff", device=f"door-{d}") for d in range(4)]
    codes = {p.id: badge(ws_client, p.id) for p in PEOPLE}
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
    store_ = ws_client.app[keys.STORE]
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
