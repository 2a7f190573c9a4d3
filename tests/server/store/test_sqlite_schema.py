"""SQLite specifics: WAL on a real file, migrations once, append-only audit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from podium_server.store.base import AuditRecord
from podium_server.store.sqlite import MIGRATIONS, SqliteStore, path_from_url


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
