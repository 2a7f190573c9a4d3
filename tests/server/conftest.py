"""Fixtures shared by server tests: a Config on real temp files, and the whole app on a
test server built from it (the small event is in tests/conftest.py, shared with the
security tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event, Participant
from podium_server.web.rate_limit import RATE_LIMITS, RateLimits
from web_client import MakeClient

_SMALL_EVENT: Any = object()  # make_client's default: the `small_event` fixture


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
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
