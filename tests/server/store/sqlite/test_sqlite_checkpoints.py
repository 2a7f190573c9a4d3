from __future__ import annotations

from pathlib import Path

from podium_server.store.sqlite import SqliteStore


async def test_wal_checkpoints_run_off_the_commit_path(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "p.db"))
    await store.open()
    try:
        await store.revoke("badge", "p1", 1.0)
        before = (tmp_path / "p.db").stat().st_size  # the header page; the rest in the WAL
        checkpoints = store._checkpoints
        assert checkpoints is not None
        checkpoints.soon()
        running = checkpoints.running
        assert running is not None
        await running
        assert (tmp_path / "p.db").stat().st_size > before  # copied into the database file
        checkpoints.soon()  # too soon after the last one: none started
        assert checkpoints.running is running
        assert await store.is_revoked("badge", "p1")
    finally:
        await store.close()
    assert store._checkpoints is None and checkpoints.running is None
