"""Fixtures shared by the web tests: `client`, the app on a test server (SQLite, small
event), built by `make_client` (tests/conftest.py).

A module whose tests all want the app a little different says only how, with a mark
taking `make_client`'s keywords, e.g. `pytestmark = pytest.mark.app(roster=PEOPLE)`.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from web_client import MakeClient


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "app(**settings): how this module's `client` app differs (make_client keywords)"
    )


@pytest.fixture
async def client(make_client: MakeClient, request: pytest.FixtureRequest) -> TestClient:
    """The whole app on a test server, as the nearest `app` mark asks (or as usual)."""
    mark = request.node.get_closest_marker("app")
    return await make_client(**(mark.kwargs if mark else {}))
