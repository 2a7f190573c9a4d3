"""Writes for the SQLite tests: as the store takes them, as the commit takes them; a file's rows."""

from __future__ import annotations

import sqlite3

from podium_server.attendance.records import DoorScan, PairLedger
from podium_server.store.records import AuditRecord, LedgerWrite, StoredReply
from podium_server.store.sqlite.writes import PlainWrite


def plain(key: str, pid: str | None, version: int = 1, scan_id: str = "") -> PlainWrite:
    audit = (1.0, "scan", "door", "jti", f'{{"id":"{key}"}}')
    body = f'{{"reply":{{"re":"{key}"}}}}'
    if pid is None:
        return PlainWrite(key, None, (), (), None, body, audit, None, None, "jti")
    scan = ("s1", pid, version, 0, scan_id or key, "in", 10.0, "door", 10.0, 0, version)
    head = ("s1", pid, version, 1, 1)
    return PlainWrite(key, head, (scan,), (), '{"p":1}', body, audit, None, pid, "jti")


def rows(path: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as c:
        return list(c.execute(sql))


def ledger_write(key: str, pid: str) -> LedgerWrite:
    scan = DoorScan(key, "s1", pid, "in", 10.0, "door", 10.0, seq=1)
    pair = PairLedger("s1", pid, (scan,), 1)
    return LedgerWrite(
        dedupe_key=key,
        stored=StoredReply({"type": "scan.result", "re": key}, "s1", pid),
        audit=AuditRecord(at=1.0, kind="scan", device="door", actor="j", detail={"id": key}),
        pair=pair,
        inside=True,
        door_seen=True,
        appended=(scan,),
    )
