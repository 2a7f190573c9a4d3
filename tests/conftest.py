"""Fixtures for every test: a real redis-server on a free port (never a fake), a Config
on real temp files, the whole app on a test server built from it, and a small
two-session event."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event, Participant, Session
from podium_server.web.rate_limit import RATE_LIMITS, RateLimits
from redis_process import RedisProcess
from web_client import MakeClient

_SMALL_EVENT: Any = object()  # make_client's default: the `small_event` fixture


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`redis://127.0.0.1:PORT`: a private redis-server, AOF fsync'd on every write."""
    server = RedisProcess(tmp_path_factory.mktemp("redis"), "--databases", "64")
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A flushed database on the shared server, for one test."""
    import redis

    client = redis.Redis.from_url(f"{redis_server}/0")
    client.flushdb()
    client.close()
    yield f"{redis_server}/0"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """`make_config(**overrides)`: a Config on this test's own SQLite file and secret
    file, ICE on 127.0.0.1 only, no synthetic lecture."""

    def make(**overrides: object) -> Config:
        values: dict[str, object] = {
            "store": f"sqlite:///{tmp_path}/podium.db",
            "secret_file": tmp_path / "secret.key",
            "ice_addresses": ("127.0.0.1",),
            "demo_stream": False,
        }
        values.update(overrides)
        return Config(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_client(
    aiohttp_client: Any, make_config: Callable[..., Config], small_event: Event
) -> MakeClient:
    """`await make_client(...)`: the whole app, as `create_app` builds it, on a test
    server. Callers name only what differs from the usual app:

    - `event=`: another event; `None` for the one the config names (`demo=True`).
      The default is the `small_event` fixture (which a module may override).
    - `roster=`: participants put in the store before the test starts.
    - `rate_limits=`: the app's limits, set before it starts.
    - any other keyword: a `make_config` override (`store=`, `allowed_origins=`, ...).
    """

    async def make(
        *,
        event: Event | None = _SMALL_EVENT,
        roster: Sequence[Participant] = (),
        rate_limits: RateLimits | None = None,
        **config: object,
    ) -> TestClient:
        app = create_app(
            make_config(**config), event=small_event if event is _SMALL_EVENT else event
        )
        if rate_limits is not None:
            app[RATE_LIMITS] = rate_limits
        client: TestClient = await aiohttp_client(app)
        if roster:
            await client.app[keys.STORE].upsert_participants(list(roster))
        return client

    return make


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
