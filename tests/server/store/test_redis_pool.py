from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path

from podium_server.store.redis import RedisStore
from podium_server.store.redis.connection import MAX_CONNECTIONS


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


async def test_pooled_connections_survive_a_redis_restart(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """Redis restarts (an upgrade, a crash): every pooled connection's next command used
    to fail ("Connection closed by server"), failing a batch of scans per connection.
    Each is retried on a new connection; the data is there (AOF) and commits go on."""
    port = unused_tcp_port

    def start() -> subprocess.Popen[bytes]:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
            + ["--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    server = start()
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        await store.open()
        await store.revoke("token", "t1", 1.0)
        # every connection of the pool in use once
        await asyncio.gather(*(store.is_revoked("token", "t1") for _ in range(MAX_CONNECTIONS)))
        server.terminate()
        server.wait(timeout=10)
        server = start()
        calls = [store.is_revoked("token", "t1") for _ in range(MAX_CONNECTIONS)]
        assert await asyncio.gather(*calls) == [True] * MAX_CONNECTIONS
        await store.revoke("badge", "p1", 2.0)
        assert await store.revoked_values("badge") == {"p1"}
    finally:
        await store.close()
        server.terminate()
        server.wait(timeout=10)
