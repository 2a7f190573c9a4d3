"""SQLite specifics: WAL on a real file, migrations once, append-only audit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from podium_server.attendance.records import DoorScan, PairLedger
from podium_server.store.records import COMMITTED, AuditRecord, LedgerWrite, StoredReply
from podium_server.store.sqlite import SqliteStore, path_from_url
from podium_server.store.sqlite.schema import MIGRATIONS, split_sql


def test_url_parsing() -> None:
    assert path_from_url("sqlite:///./podium.db") == "./podium.db"
    assert path_from_url("sqlite:////var/lib/p.db") == "/var/lib/p.db"
    with pytest.raises(ValueError):
        path_from_url("sqlite://relative.db")


async def test_file_is_wal_and_migrated_once(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    for _ in range(2):  # reopening does not re-run migrations
        store = SqliteStore(str(path))
        await store.open()
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_audit_log_cannot_be_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    store = SqliteStore(str(path))
    await store.open()
    await store.append_audit(AuditRecord(at=1.0, kind="scan", device="door", detail={"a": 1}))
    await store.close()
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET kind = 'nothing'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")


def _schema_2_file(path: Path) -> None:
    """A file as schema 2 left it: each pair's scans one JSON array in `pairs.scans`."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        for statement in split_sql(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
    scans = [
        DoorScan("r1", "s1", "p1", "in", 100.25, "door-A", 100.5, False, 1),
        DoorScan("r2", "s1", "p1", "out", 1637222400.123456, "door-B", 1637222401.0, True, 2),
        DoorScan("r3", "s1", "p1", "in", 300.0, "door-A", 300.0, False, 3),
    ]
    conn.execute(
        "INSERT INTO pairs (session_id, participant_id, version, scans, inside, door_seen,"
        " watched) VALUES ('s1', 'p1', 3, ?, 1, 1, 0)",
        (json.dumps([s.to_json() for s in scans]),),
    )
    conn.execute(
        "INSERT INTO pairs (session_id, participant_id, version, scans, watched)"
        " VALUES ('s1', 'p2', 0, '[]', 1)"
    )
    conn.close()


async def test_migration_moves_pair_json_into_scan_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema_2_file(path)
    store = SqliteStore(str(path))
    await store.open()
    try:
        scans = await store.list_scans()
        assert [(s.scan_id, s.direction, s.annulled, s.seq) for s in scans] == [
            ("r1", "in", False, 1),
            ("r2", "out", True, 2),
            ("r3", "in", False, 3),
        ]
        assert scans[1].at == 1637222400.123456 and scans[0].device == "door-A"
        looked = await store.lookup([], [("s1", "p1"), ("s1", "p2")], [])
        assert looked.pairs[("s1", "p1")] == PairLedger("s1", "p1", tuple(scans), 3)
        assert looked.pairs[("s1", "p2")] == PairLedger("s1", "p2", (), 0, True)
        # the next scan appends after the migrated ones
        nxt = DoorScan("r4", "s1", "p1", "out", 400.0, "door-A", 400.0, False, 4)
        pair = PairLedger("s1", "p1", (*scans, nxt), 4)
        write = LedgerWrite(
            "k4", StoredReply({}, "s1", "p1"), AuditRecord(1.0, "scan"), pair, appended=(nxt,)
        )
        assert (await store.commit([write]))[0].status == COMMITTED
        assert await store.list_scans() == [*scans, nxt]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(pairs)")]
    assert "scans" not in columns  # no pair rewrites its whole history any more


async def test_door_scans_are_append_only(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    store = SqliteStore(str(path))
    await store.open()
    scan = DoorScan("r1", "s1", "p1", "in", 1.0, "door", 1.0)
    pair = PairLedger("s1", "p1", (scan,), 1)
    await store.commit(
        [LedgerWrite("k", StoredReply({}), AuditRecord(1.0, "scan"), pair, appended=(scan,))]
    )
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE door_scans SET annulled = 1")  # annulling is the one change allowed
    for sql in (
        "DELETE FROM door_scans",
        "UPDATE door_scans SET at = 5",
        "UPDATE door_scans SET annulled = 0",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_database_and_wal_are_owner_only(tmp_path: Path) -> None:
    """Names, e-mails and the audit log: 0600 like the secret, whatever the umask."""
    import os

    old = os.umask(0o022)  # the usual default, which makes files 0644
    try:
        path = tmp_path / "data" / "p.db"
        store = SqliteStore(str(path))
        await store.open()
        await store.append_audit(AuditRecord(at=1.0, kind="scan", device="door", detail={}))
        files = [path, path.with_name("p.db-wal"), path.with_name("p.db-shm")]
        try:
            assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        finally:
            await store.close()
        # A file an older version left 0644 is tightened on open, its WAL too.
        os.chmod(path, 0o644)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        wal = path.with_name("p.db-wal")
        os.chmod(wal, 0o644)
        store = SqliteStore(str(path))
        await store.open()
        try:
            assert _mode(path) == 0o600 and _mode(wal) == 0o600
        finally:
            await store.close()
            conn.close()
    finally:
        os.umask(old)
