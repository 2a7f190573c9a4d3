"""The page tests' harness: a real `podium serve --demo` on 127.0.0.1 and Debian's
headless Chromium driven by Playwright (async API). Fixtures in conftest.py; test
modules import helpers from here (`from pages_harness import assert_accessible`).

- `podium`: the server as a subprocess in a tmp dir; `.url`, `.token(role, …)`
  (signed with the server's own secret file), `.stop()` / `.start()`
  (same port and store), `.printed` (what serve printed: the demo URLs).
- `browser` / `launch_browser(extra_args)`: Chromium with the project's flags.
- `assert_accessible(page)`: axe-core; fails listing every serious or critical finding.
- `screenshots(page, name)`: 360x740 and 1280x800 PNGs under test-artifacts/screenshots/.

Chromium is required, never skipped: without it these tests fail saying so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tokens import file_signer, sign

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
START_TIMEOUT_S = 30.0
LaunchBrowser = Callable[..., Awaitable[Any]]


def _podium_exe() -> str:
    beside = Path(sys.executable).parent / "podium"
    return str(beside) if beside.exists() else (shutil.which("podium") or "podium")


class PodiumServer:
    """`podium serve --demo` in a subprocess; restartable on the same port and store."""

    def __init__(self, workdir: Path, port: int, extra_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.store = f"sqlite:///{workdir / 'podium.db'}"
        self.secret_file = workdir / "secret.key"
        self.extra_args = extra_args
        self.printed: list[str] = []
        self.log_file = workdir / "serve.log"
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.env = {
            **os.environ,
            "PODIUM_ICE_ADDRESSES": "127.0.0.1",
            "PODIUM_LOG_LEVEL": "INFO",
        }

    def _common(self) -> list[str]:
        return ["--store", self.store, "--secret-file", str(self.secret_file)]

    async def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("already running")
        self.printed = []
        args = [_podium_exe(), *self._common(), "serve", "--demo"]
        args += ["--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        log = self.log_file.open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=self.workdir,
                env=self.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        finally:
            log.close()
        self._reader = asyncio.create_task(self._read_stdout(self._proc))
        await self._wait_ready()

    async def _read_stdout(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            self.printed.append(line.decode(errors="replace").rstrip("\n"))

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with aiohttp.ClientSession() as http:
            while True:
                assert self._proc is not None
                if self._proc.returncode is not None:
                    raise RuntimeError(f"podium serve exited: {self.log_file.read_text()[-2000:]}")
                try:
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"podium serve not ready: {self.log_file.read_text()[-2000:]}"
                    )
                await asyncio.sleep(0.1)
        # The demo URLs are printed right after the listening line.
        for _ in range(50):
            if any("WHEP playback" in line for line in self.printed):
                break
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> PodiumServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            await self._reader
            self._reader = None

    def token(
        self,
        role: str,
        session: str | None = None,
        participant: str | None = None,
        device: str | None = None,
    ) -> str:
        """Valid for two hours, signed with the server's secret as `podium token issue`
        signs it (tests/server/test_cli.py covers that command)."""
        claims = {"session": session, "participant": participant, "device": device}
        return sign(file_signer(self.secret_file), role, ttl_s=2 * 3600, **claims)

    def demo_url(self, label: str) -> str:
        """A URL serve printed, by its label ("Trainee watch page", "Speaker publish", …)."""
        for line in self.printed:
            if line.strip().startswith(f"{label}:"):
                return line.split(":", 1)[1].strip().split()[0]
        raise KeyError(f"serve printed no {label!r}: {self.printed}")


async def assert_accessible(page: Any) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    if bad:
        lines = []
        for v in bad:
            targets = [", ".join(map(str, node.get("target", []))) for node in v["nodes"][:5]]
            lines.append(f"{v['impact']} {v['id']}: {v['help']} at {'; '.join(targets)}")
        pytest.fail(f"axe on {page.url}:\n" + "\n".join(lines))


async def screenshots(page: Any, name: str) -> list[Path]:
    """The page at phone and desktop size (full page), kept as test artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    saved = []
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        await page.wait_for_timeout(150)  # layout settles
        path = ARTIFACTS / f"{name}-{label}.png"
        await page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    if original:
        await page.set_viewport_size(original)
    return saved
