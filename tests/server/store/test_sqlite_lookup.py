from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from podium_server.store import sqlite
from podium_server.store.sqlite import SqliteStore


async def test_badge_revocations_are_read_whole_and_kept_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check-in lookups answer revocation from a set read at most every REVOKED_FRESH_S:
    one made through the store counts at once, one made by another process (the CLI)
    within that time."""
    monkeypatch.setattr(sqlite, "REVOKED_FRESH_S", 0.2)
    path = str(tmp_path / "p.db")
    server, cli = SqliteStore(path), SqliteStore(path)
    await server.open()
    await cli.open()
    try:
        assert (await server.lookup([], [], ["p1", "p2"])).revoked == frozenset()
        await server.revoke("badge", "p1", 1.0)
        assert (await server.lookup([], [], ["p1", "p2"])).revoked == {"p1"}
        await cli.revoke("badge", "p2", 2.0)
        await asyncio.sleep(0.3)
        assert (await server.lookup([], [], ["p1", "p2", "p3"])).revoked == {"p1", "p2"}
        await cli.revoke("token", "p3", 3.0)  # tokens are not badges
        await asyncio.sleep(0.3)
        assert (await server.lookup([], [], ["p3"])).revoked == frozenset()
    finally:
        await server.close()
        await cli.close()
