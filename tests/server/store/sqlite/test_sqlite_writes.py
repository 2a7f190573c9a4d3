"""A ledger write as the rows the commit inserts, across the pipe and back as answers."""

from __future__ import annotations

import json
import pickle

from podium_server.attendance.records import DoorScan, PairLedger
from podium_server.store.records import (
    COMMITTED,
    CONFLICT,
    DUPLICATE,
    TOKEN_REVOKED,
    AuditRecord,
    LedgerWrite,
    StoredReply,
)
from podium_server.store.sqlite.writes import (
    COMMITTED_RAW,
    CONFLICT_RAW,
    TOKEN_REVOKED_RAW,
    PlainWrite,
    commit_result,
    named,
    plain_write,
)


def test_a_pair_write_crosses_the_pipe_and_reads_by_name() -> None:
    scan = DoorScan("r2", "s1", "p1", "out", 20.5, "door-B", 21.0, annulled=False, seq=2)
    write = LedgerWrite(
        dedupe_key="door-B:r2",
        stored=StoredReply({"type": "scan.result", "re": "r2"}, "s1", "p1"),
        audit=AuditRecord(21.0, "scan", "door-B", "jti-9", {"participant": "p1", "b": 1}),
        pair=PairLedger("s1", "p1", (scan,), 2),
        inside=False,
        door_seen=True,
        recent={"participant": "p1", "direction": "out"},
        appended=(scan,),
        annulled=(("r1", "door-A"),),
        unrevoked_badge="p1",
        token="jti-9",
    )
    wire = pickle.loads(pickle.dumps([plain_write(write)], protocol=pickle.HIGHEST_PROTOCOL))
    assert type(wire[0]) is tuple  # plain on the pipe: pickling a NamedTuple costs more
    [w] = named(wire)
    assert isinstance(w, PlainWrite)
    assert w.key == "door-B:r2"
    assert w.pair_head == ("s1", "p1", 2, 0, 1)  # version 2, not inside, seen at the door
    assert w.scan_rows == (("s1", "p1", 2, 0, "r2", "out", 20.5, "door-B", 21.0, 0, 2),)
    assert w.annulled == (("r1", "door-A"),)
    assert json.loads(w.recent or "") == {"participant": "p1", "direction": "out"}
    assert json.loads(w.reply) == {
        "reply": {"type": "scan.result", "re": "r2"},
        "s": "s1",
        "p": "p1",
    }
    at, kind, device, actor, detail = w.audit_row
    assert (at, kind, device, actor) == (21.0, "scan", "door-B", "jti-9")
    assert detail == '{"b":1,"participant":"p1"}'  # keys sorted, as every audit line
    assert (w.decided_on, w.unrevoked_badge, w.token) == (None, "p1", "jti-9")


def test_a_write_that_leaves_its_pair_alone_names_the_version_it_read() -> None:
    write = LedgerWrite(
        dedupe_key="door-A:r5",
        stored=StoredReply({"type": "scan.result", "status": "already_inside"}, "s1", "p1"),
        audit=AuditRecord(30.0, "scan", "door-A"),
        decided_on=("s1", "p1", 4),
        unrevoked_badge="p1",
    )
    [w] = named([plain_write(write)])
    assert w.pair_head is None and w.scan_rows == () and w.recent is None
    assert w.decided_on == ("s1", "p1", 4) and w.token is None


def test_answers_come_back_as_commit_results() -> None:
    first = LedgerWrite("k1", StoredReply({"re": "k1"}, "s1", "p1"), AuditRecord(1.0, "scan"))
    batch = [first, first]
    assert commit_result(COMMITTED_RAW, batch).status == COMMITTED
    assert commit_result(CONFLICT_RAW, batch).status == CONFLICT
    assert commit_result(TOKEN_REVOKED_RAW, batch).status == TOKEN_REVOKED
    again = commit_result(("i", 0), batch)  # the same request earlier in the batch
    assert again.status == DUPLICATE and again.stored is first.stored
    stored = commit_result(("d", '{"reply":{"re":"k0"},"s":"s1","p":"p2"}'), batch)
    assert stored.status == DUPLICATE
    assert stored.stored == StoredReply({"re": "k0"}, "s1", "p2")
