"""Fixtures for the page tests (see pages_harness.py for what each gives):

- `podium`: `podium serve --demo` on 127.0.0.1 in a tmp dir (`.url`, `.token(role,
  session=, participant=, device=)`, `.stop()` / `.start()`, `.printed`);
  `quiet_podium`: the same with `--no-demo-stream`, nobody publishing.
- `launch_browser(extra_args)` and `browser`: Debian's headless Chromium via Playwright.
- helpers `assert_accessible(page)` and `screenshots(page, name)`, re-exported here;
  test modules import them from `pages_harness`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pages_harness import LaunchBrowser, PodiumServer, assert_accessible, screenshots

from chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from loopback import free_port

__all__ = ["assert_accessible", "screenshots"]


@pytest.fixture
async def podium(tmp_path: Path) -> AsyncIterator[PodiumServer]:
    async with PodiumServer(tmp_path, free_port()) as server:
        yield server


@pytest.fixture
async def quiet_podium(tmp_path: Path) -> AsyncIterator[PodiumServer]:
    """The demo programme with nobody publishing (no synthetic lecture): the test's own
    browser or peer is the only source."""
    async with PodiumServer(tmp_path, free_port(), extra_args=("--no-demo-stream",)) as server:
        yield server


@pytest.fixture
async def launch_browser() -> AsyncIterator[LaunchBrowser]:
    """`await launch_browser(extra_args=[...])`: another Chromium (e.g. a fake camera)."""
    require_chromium()
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    launched: list[Any] = []

    async def launch(extra_args: list[str] | tuple[str, ...] = ()) -> Any:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        launched.append(browser)
        return browser

    try:
        yield launch
    finally:
        for browser in launched:
            await browser.close()
        await playwright.stop()


@pytest.fixture
async def browser(launch_browser: LaunchBrowser) -> Any:
    return await launch_browser()
