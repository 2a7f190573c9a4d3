from __future__ import annotations

from pathlib import Path

from podium_server.store.sqlite import SqliteStore


async def test_wal_checkpoints_run_off_the_commit_path(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "p.db"))
    await store.open()
    try:
        await store.revoke("badge", "p1", 1.0)
        before = (tmp_path / "p.db").stat().st_size  # the header page; the rest in the WAL
        store._checkpoint_soon()
        running = store._checkpoint_running
        assert running is not None
        await running
        assert (tmp_path / "p.db").stat().st_size > before  # copied into the database file
        store._checkpoint_soon()  # too soon after the last one: none started
        assert store._checkpoint_running is running
        assert await store.is_revoked("badge", "p1")
    finally:
        await store.close()
    assert store._checkpointer is None
