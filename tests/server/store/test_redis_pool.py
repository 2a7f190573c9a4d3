from __future__ import annotations

import asyncio

from podium_server.store.redis import MAX_CONNECTIONS, RedisStore


async def test_a_burst_beyond_the_pool_waits_for_connections(redis_url: str) -> None:
    """More concurrent calls than the pool holds: each waits for a connection instead
    of failing with "Too many connections" (a hello answered `internal` under load)."""
    store = RedisStore.from_url(redis_url)
    await store.open()
    try:
        await store.revoke("token", "t1", 1.0)
        calls = [store.is_revoked("token", f"t{i % 3}") for i in range(MAX_CONNECTIONS * 3)]
        results = await asyncio.gather(*calls)
        assert results.count(True) == MAX_CONNECTIONS
    finally:
        await store.close()
