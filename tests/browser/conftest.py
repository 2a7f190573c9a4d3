"""Fixtures for the real-Chromium tests: a Podium app on 127.0.0.1, a page server on
another origin, headless Chromium driven by Selenium (see browser_harness.py).

Chromium is required, never skipped: CI installs it (`apt-get install chromium
chromium-driver`); without it these tests fail with a message saying so.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from browser_harness import (
    CHROMEDRIVER,
    TRAINEE,
    Browser,
    chromium_options,
    event,
    peers,
)

from chromium import CHROMIUM
from podium_http import Podium, start_podium
from podium_server import appkeys as keys
from podium_server.config import Config


@pytest.fixture(scope="session")
def vp8_packets() -> list[Any]:
    return peers.encode_vp8(60)


@pytest.fixture
async def podium(
    request: pytest.FixtureRequest, make_config: Callable[..., Config]
) -> AsyncIterator[Podium]:
    """Podium on 127.0.0.1:free port, recording the requests it gets. Parametrize
    indirectly with "demo" for the synthetic lecture (`podium serve --demo`) on the
    streamed session."""
    demo = getattr(request, "param", None) == "demo"
    config = make_config(demo=demo, demo_stream=demo)
    podium = await start_podium(config, event(), record_requests=True)
    try:
        await podium.app[keys.STORE].upsert_participants([TRAINEE])
        yield podium
    finally:
        await podium.server.close()


@pytest.fixture
async def pages() -> AsyncIterator[Callable[[dict[str, str]], str]]:
    """A page server on its own port (another origin than Podium): register HTML by
    path, get back its http://127.0.0.1:PORT URL."""
    html: dict[str, str] = {}

    async def serve(request: web.Request) -> web.Response:
        if request.path == "/favicon.ico":
            return web.Response(status=204)
        body = html.get(request.path)
        if body is None:
            raise web.HTTPNotFound
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()

    def add(paths: dict[str, str]) -> str:
        html.update(paths)
        return str(server.make_url("")).rstrip("/")

    try:
        yield add
    finally:
        await server.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"Chromium is required for tests/browser but {', '.join(missing)} is missing "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is required for tests/browser (pip install -e '.[test]')")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    profile = tmp_path / "chromium-profile"
    service = Service(CHROMEDRIVER, log_output=str(artifacts / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=chromium_options(profile))
    driver.set_script_timeout(10)
    b = Browser(driver, artifacts)
    try:
        yield b
    finally:
        b.save_logs()
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
