"""Fixtures for every test: a real redis-server on a free port (never a fake), and a
small two-session event."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loopback import free_port
from podium_server.event.model import Event, Session


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`redis://127.0.0.1:PORT`: a private redis-server, AOF fsync'd on every write."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(exe).exists():
        # Never a silent skip: the Redis contract suite is half of the store's tests.
        pytest.fail("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--databases",
            "64",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A flushed database on the shared server, for one test."""
    import redis

    client = redis.Redis.from_url(f"{redis_server}/0")
    client.flushdb()
    client.close()
    yield f"{redis_server}/0"


@pytest.fixture
def small_event() -> Event:
    """Two sessions: s1 live now (one hour), s2 tomorrow."""
    now = datetime.now(UTC).replace(microsecond=0)
    return Event(
        id="test-event",
        title="Test training",
        timezone="UTC",
        sessions=(
            Session(
                id="s1",
                title="Live now",
                start=now - timedelta(minutes=10),
                end=now + timedelta(minutes=50),
                stream=True,
            ),
            Session(
                id="s2",
                title="Tomorrow",
                start=now + timedelta(days=1),
                end=now + timedelta(days=1, hours=1),
                stream=False,
                mode="in_person",
            ),
        ),
    )
