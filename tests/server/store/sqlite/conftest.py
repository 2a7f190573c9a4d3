"""Fixtures of the SQLite backend's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium_server.store.sqlite import SqliteStore


@pytest.fixture
async def db(tmp_path: Path) -> str:
    """A migrated database file (the store creates the schema), closed again."""
    path = str(tmp_path / "w.db")
    store = SqliteStore(path)
    await store.open()
    await store.close()
    return path
