"""Staff `search` and manual check-in over a real `/ws` (real app, real store)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from ws_peer import Peer, connect

from podium_server import appkeys as keys
from podium_server.event.model import Event, Participant, Session

PEOPLE = [
    Participant(
        "T001", "张伟", "zhang.wei@mail.example.cn", "深圳市科技局", "government", "Guangdong"
    ),
    Participant("T002", "Li Na", "li.na@uni.example.cn", "Wuhan University", "university", "Hubei"),
    Participant(
        "T003", "Wang Fang", "wf@park.example.cn", "Shenzhen Park", "industrial_park", "Guangdong"
    ),
]
pytestmark = pytest.mark.app(roster=PEOPLE)


@pytest.fixture
def small_event(small_event: Event) -> Event:
    """The small event with an online-only session beside s1, at the same time."""
    s1 = small_event.sessions[0]
    online = Session(id="web", title="Online only", start=s1.start, end=s1.end, mode="online")
    return replace(small_event, sessions=(*small_event.sessions, online))


async def found(peer: Peer, query: str) -> list[dict[str, Any]]:
    reply = await peer.call({"type": "search", "query": query})
    assert reply["type"] == "search.result", reply
    return list(reply["participants"])


async def test_search_finds_by_name_pinyin_organization_and_id_and_shows_no_secret(
    client: TestClient,
) -> None:
    staff = await connect(client, "staff")
    for query in ("张伟", "zhang wei", "zhangwei", "科技局", "T001"):
        assert [p["id"] for p in await found(staff, query)] == ["T001"], query
    shown = (await found(staff, "zhang wei"))[0]
    assert shown == {
        "id": "T001",
        "name": "张伟",
        "organization": "深圳市科技局",
        "province": "Guangdong",
    }
    # the e-mail oracle: an address, or a part of one, finds nobody
    staff = await connect(client, "staff", device="door-2")  # a fresh search allowance
    for query in ("zhang.wei@mail.example.cn", "li.na@", "park.example"):
        assert await found(staff, query) == [], query
    # a badge code is no query either (it would tell a genuine code from a forged one)
    code = client.app[keys.BADGES].code_for("T002")
    assert await found(staff, code) == []
    everything = json.dumps(await found(staff, "T00"))
    assert "@" not in everything and "PB1." not in everything


async def test_search_is_limited_to_the_tokens_sessions(client: TestClient) -> None:
    """A staff token bound to a session no door can scan (online only) finds nobody; one
    bound to a door session, or unbound, finds the roster registered for it."""
    online_door = await connect(client, "staff", session="web")
    assert await found(online_door, "Li Na") == []
    room = await connect(client, "staff", device="door-B", session="s2")
    assert [p["id"] for p in await found(room, "Li Na")] == ["T002"]
    trainee = await connect(client, "trainee", device="phone", participant="T002")
    refused = await trainee.call({"type": "search", "query": "Li Na"})
    assert refused["type"] == "error" and refused["code"] == "forbidden"


async def test_search_is_rate_limited_per_connection(client: TestClient) -> None:
    staff = await connect(client, "staff")
    replies = [await staff.call({"type": "search", "query": f"T00{i % 3}"}) for i in range(25)]
    kinds = [r["type"] for r in replies]
    assert kinds[:10] == ["search.result"] * 10  # a burst of ten: a person at the door
    assert "error" in kinds and all(
        r["code"] == "rate_limited" for r in replies if r["type"] == "error"
    )
    # another scanner is not slowed by this one
    other = await connect(client, "staff", device="door-C")
    assert [p["id"] for p in await found(other, "Wang Fang")] == ["T003"]


async def test_a_manual_check_in_is_recorded_and_audited_as_manual(
    client_on_each_store: TestClient,
) -> None:
    client = client_on_each_store
    staff = await connect(client, "staff")
    manual = {"type": "scan", "participant": "T001", "session": "s1", "direction": "in"}
    first = await staff.call({**manual, "id": "man-1"})
    assert first["type"] == "scan.result" and first["outcome"] == "accepted"
    assert first["manual"] is True and first["participant"]["name"] == "张伟"
    # the same id again: the same answer, recorded once
    assert await staff.call({**manual, "id": "man-1"}) == first
    again = await staff.call({**manual, "id": "man-2"})
    assert again["outcome"] == "already_inside"
    # a badge scan of the same person is not manual
    code = client.app[keys.BADGES].code_for("T001")
    out = await staff.call(
        {"type": "scan", "id": "b-1", "code": code, "session": "s1", "direction": "out"}
    )
    assert out["outcome"] == "accepted" and "manual" not in out
    audit = [a for a in await client.app[keys.STORE].list_audit() if a.kind == "scan"]
    by_id = {a.detail["id"]: a.detail for a in audit}
    assert [a.detail["id"] for a in audit].count("man-1") == 1
    assert by_id["man-1"]["manual"] is True and by_id["man-1"]["participant"] == "T001"
    assert "manual" not in by_id["b-1"]
    scans = [s for s in await client.app[keys.STORE].list_scans() if s.participant_id == "T001"]
    assert [s.scan_id for s in scans] == ["man-1", "b-1"]  # man-2: a repeat, not kept
    # it can be undone like any scan, from the same device
    undone = await staff.call({"type": "annul", "scan_id": "man-1"})
    assert undone["type"] == "annul.result" and undone["outcome"] == "annulled"


async def test_manual_check_ins_follow_the_same_rules_as_badges(client: TestClient) -> None:
    staff = await connect(client, "staff")

    async def manual(pid: str, session: str = "s1", **kw: Any) -> dict[str, Any]:
        msg = {"type": "scan", "participant": pid, "session": session, "direction": "in", **kw}
        return await staff.call(msg)

    assert (await manual("NOBODY"))["outcome"] == "unknown_badge"
    assert (await manual("not an id!"))["outcome"] == "unknown_badge"
    assert (await manual("T002", session="web"))["outcome"] == "wrong_session"
    assert (await manual("T002", session="s2"))["outcome"] == "outside_window"
    await client.app[keys.STORE].revoke("badge", "T003", time.time())
    assert (await manual("T003"))["outcome"] == "revoked"
    both = await manual("T002", code=client.app[keys.BADGES].code_for("T002"))
    assert both["type"] == "error" and both["code"] == "bad_message"
    # queued offline and uploaded in a sync, with its time
    at = time.time() - 60
    item = {"id": "q-1", "participant": "T002", "session": "s1", "direction": "in"}
    res = await staff.call({"type": "sync", "scans": [{**item, "scanned_at": at}]})
    assert res["results"][0]["outcome"] == "accepted" and res["results"][0]["manual"] is True
    assert res["results"][0]["first_seen_at"] == at


async def test_staff_follow_the_count_of_a_session_they_scan(client: TestClient) -> None:
    """The scanner page's in-room figure: a staff token may subscribe to one session it
    may scan (and is pushed its updates), not to every session nor to one it may not."""
    door = await connect(client, "staff", session="s1")
    snap = await door.call({"type": "subscribe", "session": "s1"})
    assert snap["type"] == "snapshot" and snap["sessions"]["s1"]["inside"] == 0
    for other in ({"session": "s2"}, {}, {"session": "web"}):
        refused = await door.call({"type": "subscribe", **other})
        assert refused["type"] == "error" and refused["code"] == "forbidden", other
    unbound = await connect(client, "staff", device="door-B")
    assert (await unbound.call({"type": "subscribe", "session": "s2"}))["type"] == "snapshot"
    assert (await unbound.call({"type": "subscribe", "session": "web"}))["code"] == "forbidden"
    await door.call({"type": "subscribe", "session": "s1"})
    await door.call({"type": "scan", "participant": "T002", "session": "s1", "direction": "in"})
    while True:
        update = json.loads(await door.ws.receive_str(timeout=5))
        if update["type"] == "update":
            break
    assert update["sessions"]["s1"]["inside"] == 1
    # the dashboard's recent list says it was a manual check-in
    (entry,) = [r for r in update["sessions"]["s1"]["recent"] if r["participant"] == "T002"]
    assert entry["manual"] is True and entry["direction"] == "in"
