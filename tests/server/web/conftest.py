"""Fixtures shared by the web tests: `client`, the app on a test server (SQLite, small
event), and `client_on_each_store` (SQLite, then Redis), built by `make_client`
(tests/conftest.py).

A module whose tests all want the app a little different says only how, with a mark
taking `make_client`'s keywords, e.g. `pytestmark = pytest.mark.app(roster=PEOPLE)`.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from ws_peer import PEOPLE

from web_client import MakeClient


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "app(**settings): how this module's `client` app differs (make_client keywords)"
    )


def app_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The keywords of the nearest `app` mark (none: the usual app)."""
    mark = request.node.get_closest_marker("app")
    return dict(mark.kwargs) if mark else {}


@pytest.fixture
async def client(make_client: MakeClient, request: pytest.FixtureRequest) -> TestClient:
    """The whole app on a test server, as the nearest `app` mark asks (or as usual)."""
    return await make_client(**app_settings(request))


@pytest.fixture(params=["sqlite", "redis"])
async def client_on_each_store(
    make_client: MakeClient, request: pytest.FixtureRequest
) -> TestClient:
    """`client` on SQLite, then on a real redis-server."""
    settings = app_settings(request)
    if request.param == "redis":
        settings["store"] = str(request.getfixturevalue("redis_url"))
    return await make_client(**settings)


@pytest.fixture
async def ws_client(make_client: MakeClient) -> TestClient:
    """`client` with the /ws tests' small roster (ws_peer.PEOPLE) loaded."""
    return await make_client(roster=PEOPLE)


@pytest.fixture(params=["sqlite", "redis"])
async def ws_client_on_each_store(
    make_client: MakeClient, request: pytest.FixtureRequest
) -> TestClient:
    """`ws_client` on SQLite, then on a real redis-server."""
    store = {"store": str(request.getfixturevalue("redis_url"))} if request.param == "redis" else {}
    return await make_client(roster=PEOPLE, **store)
