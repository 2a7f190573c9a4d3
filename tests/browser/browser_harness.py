"""Helpers for the real-Chromium tests: the aiortc peers of tests/server/media, the
event and trainee the app is started with (the app itself: tests/podium_http.py), and
headless Chromium (libwebrtc) driven by Selenium."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from chromium import CHROMIUM, CHROMIUM_ARGS
from podium_server.event.model import Event, Participant, Session

CHROMEDRIVER = "/usr/bin/chromedriver"
TRAINEE = Participant(
    id="P1",
    name="Wang Fang",
    email="",
    organization="Shenzhen Bureau",
    org_type="government",
    province="Guangdong",
    mode="online",
)


def load_peers() -> ModuleType:
    """tests/server/media/peers.py (aiortc publisher/viewer), loaded by path: the test
    directories are not packages, so it cannot be imported by name from here."""
    path = Path(__file__).parents[1] / "server" / "media" / "peers.py"
    spec = importlib.util.spec_from_file_location("podium_browser_test_peers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


peers = load_peers()


def event() -> Event:
    now = datetime.now(UTC).replace(microsecond=0)
    return Event(
        id="browser-event",
        title="Browser interop",
        timezone="UTC",
        sessions=(
            Session(
                id="s1",
                title="Live now",
                start=now - timedelta(minutes=10),
                end=now + timedelta(minutes=50),
                stream=True,
            ),
        ),
    )


FRAME_STATES = """
const out = {page: window.podium || null};
for (const f of document.querySelectorAll("iframe")) {
  out[f.id] = (f.contentWindow && f.contentWindow.podium) || null;
}
return out;
"""


class Browser:
    """Headless Chromium. Selenium is blocking: every call goes through a thread so the
    event loop (which runs the relay and the aiortc peers) keeps going."""

    def __init__(self, driver: Any, artifacts: Path) -> None:
        self.driver = driver
        self.artifacts = artifacts

    async def get(self, url: str) -> None:
        await asyncio.to_thread(self.driver.get, url)

    async def js(self, script: str, *args: Any) -> Any:
        return await asyncio.to_thread(self.driver.execute_script, script, *args)

    async def state(self, frame: str | None = None) -> dict[str, Any]:
        """`window.podium` of the page, or of its same-origin <iframe id=frame>."""
        if frame is None:
            return dict(await self.js("return window.podium || {}"))
        script = "const f = document.getElementById(arguments[0]); "
        script += "return (f && f.contentWindow && f.contentWindow.podium) || {}"
        return dict(await self.js(script, frame))

    async def wait_for(
        self,
        check: Callable[[dict[str, Any]], bool],
        within: float,
        what: str,
        frame: str | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        state = await self.state(frame)
        while not check(state):
            if state.get("error"):
                raise AssertionError(f"page failed while waiting for {what}: {state['error']}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; page state: {state}")
            await asyncio.sleep(0.2)
            state = await self.state(frame)
        return state

    async def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        await asyncio.to_thread(self.driver.save_screenshot, str(path))
        return path

    def save_logs(self) -> None:
        """At teardown, pass or fail: the last picture, the page's state, its console."""
        try:
            self.driver.save_screenshot(str(self.artifacts / "final.png"))
            state = self.driver.execute_script(FRAME_STATES)
        except Exception as err:  # noqa: BLE001 - a diagnostic extra
            state = {"error": repr(err)}
        (self.artifacts / "page-state.json").write_text(json.dumps(state, indent=1))
        try:
            entries = self.driver.get_log("browser")
        except Exception as err:  # noqa: BLE001 - logs are a diagnostic extra
            entries = [{"error": repr(err)}]
        (self.artifacts / "console.json").write_text(json.dumps(entries, indent=1))


def chromium_options(user_data_dir: Path) -> Any:
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        *CHROMIUM_ARGS,
        "--headless=new",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=800,600",
        f"--user-data-dir={user_data_dir}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options
