"""Fixtures shared by the web tests: the app on a test server (SQLite, small event)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

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
