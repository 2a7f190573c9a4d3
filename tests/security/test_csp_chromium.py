"""The browser security headers as Debian's headless Chromium enforces them (Playwright):
no inline script anywhere, WebAssembly only on the scanner page, and no framing by
another site except the kiosk view by an allowed origin. Pages are served from
http://127.0.0.1 by a real Podium app; the framing site is a second server on another
port (another origin)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event

# The smallest valid WebAssembly module: magic number and version.
WASM = "new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])"
TRY_WASM = f"""async () => {{
  try {{ await WebAssembly.compile({WASM}); return "compiled"; }}
  catch (e) {{ return "refused: " + e.message; }}
}}"""
TRY_INLINE = """async () => {
  const violations = [];
  document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
  const s = document.createElement("script");
  s.textContent = "window.ranInline = true";
  document.documentElement.append(s);
  await new Promise((r) => setTimeout(r, 100));
  return {ran: window.ranInline === true, violations};
}"""


@pytest.fixture
async def framing_site() -> AsyncIterator[TestServer]:
    """Another origin: a page that frames whatever `?src=` names."""

    async def frame_page(request: web.Request) -> web.Response:
        src = request.query["src"]
        return web.Response(
            text=f'<!doctype html><iframe id="f" src="{src}"></iframe>', content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", frame_page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def podium(tmp_path: Path, small_event: Event, allowed: tuple[str, ...]) -> TestServer:
    config = Config(
        store=f"sqlite:///{tmp_path}/podium.db",
        secret_file=tmp_path / "secret.key",
        demo_stream=False,
        ice_addresses=("127.0.0.1",),
        allowed_origins=allowed,
    )
    server = TestServer(create_app(config, event=small_event), host="127.0.0.1")
    await server.start_server()
    return server


async def test_chromium_runs_no_inline_script_and_wasm_only_on_scan(
    tmp_path: Path, small_event: Event, browser: Any
) -> None:
    server = await podium(tmp_path, small_event, ())
    try:
        page = await browser.new_page()
        base = str(server.make_url("/"))
        results = {}
        for path in ("verify/PC1~x~y~Z", "api/v1/event", "watch/s1", "scan"):
            await page.goto(base + path)
            results[path] = (await page.evaluate(TRY_WASM), await page.evaluate(TRY_INLINE))
        for path, (wasm, inline) in results.items():
            assert inline["ran"] is False and "script-src-elem" in inline["violations"], path
            if path == "scan":
                assert wasm == "compiled", wasm
            else:
                assert wasm.startswith("refused") and "Content Security Policy" in wasm, (
                    path,
                    wasm,
                )
    finally:
        await server.close()


async def test_chromium_lets_only_the_kiosk_view_be_framed_by_an_allowed_origin(
    tmp_path: Path, small_event: Event, browser: Any, framing_site: TestServer
) -> None:
    site = str(framing_site.make_url("/")).rstrip("/")
    allowed = await podium(tmp_path / "a", small_event, (site,))
    try:
        page = await browser.new_page()
        outcome = {}
        for path in ("/watch/s1?kiosk", "/watch/s1", "/api/v1/event"):
            target = str(allowed.make_url(path))
            await page.goto(f"{site}/?src={target}")
            await page.wait_for_load_state("load")
            frame = page.frames[1]
            outcome[path] = frame.url
        assert outcome["/watch/s1?kiosk"].endswith("/watch/s1?kiosk")
        assert outcome["/watch/s1"].startswith("chrome-error://")
        assert outcome["/api/v1/event"].startswith("chrome-error://")
    finally:
        await allowed.close()
    # A server that does not list the site: not even the kiosk view may be framed by it.
    closed = await podium(tmp_path / "b", small_event, ())
    try:
        page = await browser.new_page()
        await page.goto(f"{site}/?src={closed.make_url('/watch/s1?kiosk')}")
        await page.wait_for_load_state("load")
        assert page.frames[1].url.startswith("chrome-error://")
    finally:
        await closed.close()
