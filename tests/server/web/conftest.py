"""Fixtures shared by the web tests: the app on a test server (SQLite, small event), and
with a small roster for the /ws tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from ws_peer import started

from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event


@pytest.fixture
async def client(
    aiohttp_client: Any, make_config: Callable[..., Config], small_event: Event
) -> TestClient:
    """The whole app, as `create_app` builds it, on a test server. Test modules that
    need more (a roster, other limits) define their own `client`."""
    return await aiohttp_client(create_app(make_config(), event=small_event))


@pytest.fixture
async def ws_client(
    aiohttp_client: Any, make_config: Callable[..., Config], small_event: Event
) -> TestClient:
    """`client` with the /ws tests' small roster (ws_peer.PEOPLE) loaded."""
    return await started(await aiohttp_client(create_app(make_config(), event=small_event)))


@pytest.fixture(params=["sqlite", "redis"])
async def ws_client_on_each_store(
    aiohttp_client: Any,
    make_config: Callable[..., Config],
    small_event: Event,
    request: pytest.FixtureRequest,
) -> TestClient:
    """`ws_client` on SQLite, then on a real redis-server."""
    store = {"store": str(request.getfixturevalue("redis_url"))} if request.param == "redis" else {}
    app = create_app(make_config(**store), event=small_event)
    return await started(await aiohttp_client(app))
