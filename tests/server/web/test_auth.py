"""The node-wide copy of revoked tokens that open WebSockets re-check against."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from podium_server.store.factory import open_store
from podium_server.store.roles import Store
from podium_server.web.auth import RevokedTokens


class CountingStore:
    """A real SQLite store that counts how often the revoked set is read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0
        self.fail = False

    async def revoked_values(self, kind: str) -> frozenset[str]:
        self.reads += 1
        if self.fail:
            raise ConnectionError("store unreachable")
        await asyncio.sleep(0.01)  # a round trip: callers meanwhile share it
        return await self.store.revoked_values(kind)


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    s = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    await s.open()
    yield s
    await s.close()


async def test_connections_share_one_read_and_see_a_revocation_once_stale(store: Store) -> None:
    now = [100.0]
    counting = CountingStore(store)
    cache = RevokedTokens(counting, lambda: now[0], fresh_s=0.5)  # type: ignore[arg-type]
    # 64 sockets opened together re-check together: one read answers them all
    assert not any(await asyncio.gather(*(cache.contains("jti-a") for _ in range(64))))
    assert counting.reads == 1
    await store.revoke("token", "jti-a", now[0])  # by the CLI, say: the node is not told
    now[0] += 0.4
    assert not await cache.contains("jti-a")  # its copy is still fresh
    assert counting.reads == 1
    now[0] += 0.1
    assert await cache.contains("jti-a") and not await cache.contains("jti-b")
    assert counting.reads == 2


async def test_a_failed_read_keeps_the_last_set_and_is_tried_again_soon(
    store: Store,
) -> None:
    """A store that cannot answer a moment must not close every socket waiting on the
    read: they get the last set known, and the read is tried again a little later."""
    now = [100.0]
    counting = CountingStore(store)
    cache = RevokedTokens(counting, lambda: now[0], fresh_s=0.5)  # type: ignore[arg-type]
    await store.revoke("token", "x", 1.0)
    assert await cache.contains("x") and counting.reads == 1
    now[0] += 0.5
    counting.fail = True
    results = await asyncio.gather(cache.contains("x"), cache.contains("y"))
    assert results == [True, False] and counting.reads == 2
    counting.fail = False
    await store.revoke("token", "y", 2.0)
    assert not await cache.contains("y") and counting.reads == 2  # not at once: in 0.1 s
    now[0] += 0.1
    assert await cache.contains("y") and counting.reads == 3
