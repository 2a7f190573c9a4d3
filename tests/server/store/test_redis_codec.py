"""The JSON the Redis store keeps, without Redis: a write as `commit.lua` reads it, and
a pair's scan lines read back."""

from __future__ import annotations

import json

from podium_server.attendance.records import DoorScan, PairLedger
from podium_server.store.records import AuditRecord, LedgerWrite, StoredReply
from podium_server.store.redis.codec import audit_line, pair_ledger, scan_history, write_json


def scan(rid: str, device: str = "door-A", at: float = 100.0, seq: int = 1) -> DoorScan:
    return DoorScan(rid, "s1", "p1", "in", at, device, at, False, seq)


def reply(key: str) -> StoredReply:
    return StoredReply({"type": "scan.result", "re": key}, "s1", "p1")


AUDIT = AuditRecord(at=1.0, kind="scan", device="door-A", detail={"id": "r1"})


def test_a_write_without_a_pair_carries_only_what_the_script_reads_as_set() -> None:
    """The script tests `w.pair`, `w.x`, `w.nr`, `w.t` for nil: a JSON null decodes to
    cjson.null, which Lua takes as true, so what a write lacks is left out, not null."""
    out = write_json(LedgerWrite("door|r1", reply("door|r1"), AUDIT))
    assert set(out) == {"k", "body", "audit"}
    assert out["k"] == "door|r1"
    assert json.loads(out["body"]) == reply("door|r1").to_json()
    assert out["audit"] == audit_line(AUDIT)


def test_a_pair_write_sends_its_new_lines_and_they_read_back_as_its_scans() -> None:
    first = scan("r1")
    second = scan("r2", at=200.0, seq=2)
    pair = PairLedger("s1", "p1", (first, second), 2)
    write = LedgerWrite(
        "door|r2",
        reply("door|r2"),
        AUDIT,
        pair=pair,
        inside=True,
        door_seen=True,
        recent={"participant": "p1"},
        appended=(second,),
        annulled=(("r1", "door-A"),),
        unrevoked_badge="p1",
        token="jti-1",
    )
    out = write_json(write)
    assert out["pair"]["s"] == "s1" and out["pair"]["p"] == "p1" and out["pair"]["v"] == 2
    assert (out["pair"]["inside"], out["pair"]["door_seen"]) == (1, 1)
    assert out["nr"] == "p1" and out["t"] == "jti-1" and "x" not in out
    assert json.loads(out["recent"]) == {"participant": "p1"}
    # stored after the first write's line, the history reads: r1 annulled, r2 live
    history = scan_history([first.json_text, *out["pair"]["lines"]])
    assert [(s.scan_id, s.annulled) for s in history] == [("r1", True), ("r2", False)]
    got = pair_ledger(("s1", "p1"), 2, [first.json_text, *out["pair"]["lines"]], "1")
    assert got.watched and got.version == 2 and got.scans == history


def test_an_annulment_flags_only_its_own_device_and_earlier_scans() -> None:
    """Scan ids are the client's: two doors may use the same one, and a door may use an
    id again after annulling it."""
    lines = [
        scan("r1", "door-A").json_text,
        scan("r1", "door-B").json_text,
        json.dumps({"annul": "r1", "device": "door-B", "v": 3}),
        scan("r1", "door-B", at=300.0).json_text,
    ]
    assert [(s.device, s.annulled) for s in scan_history(lines)] == [
        ("door-A", False),
        ("door-B", True),
        ("door-B", False),
    ]


def test_a_decided_on_write_names_the_pair_it_read() -> None:
    write = LedgerWrite("door|r3", reply("door|r3"), AUDIT, decided_on=("s1", "p1", 4))
    assert write_json(write)["x"] == ["s1", "p1", 4]
