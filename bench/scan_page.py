"""The door scanner page's speed, in headless Chromium against a real `podium serve --demo`
on 127.0.0.1: what staff wait for at the door.

- wedge: N scans typed by a "USB scanner" (Playwright's keyboard, the code then Enter,
  one after the other as a queue at the door would be), each timed in the page from the
  Enter key's event to the frame after the result card shows its answer. Beside it, in
  the same run, the part of that spent between the scan frame leaving the page and its
  answer arriving (network + server), so the page's own share shows. Goal: p50 < 150 ms.
- camera: Chromium's fake camera playing a badge's QR (.y4m), decoded in the page by
  the vendored zxing-wasm (no BarcodeDetector in Chromium on Linux): decode time per
  frame (p50 / p95) over the frames of --camera-seconds.

    python bench/scan_page.py [--scans 200] [--camera-seconds 10]

Prints one table; the machine's load is printed with it (the cores are shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "pages"))  # the page tests' harness
sys.path.insert(0, str(HERE.parent / "tests"))  # loopback, chromium

from fake_camera import write_y4m  # noqa: E402
from pages_harness import PodiumServer  # noqa: E402

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from loopback import free_port  # noqa: E402
from percentile import pct  # noqa: E402

# Bench instrumentation, injected before the page's own code: Enter keydown times, the
# answer frames' send/receive times by request id, and when each answer was painted.
PROBE = """
window.__bench = {enter: [], shown: [], sent: {}, answered: {}};
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter') window.__bench.enter.push(ev.timeStamp);
}, true);
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  try {
    const m = JSON.parse(data);
    if (m.type === 'scan') window.__bench.sent[m.id] = performance.now();
  } catch (e) {}
  if (!this.__benchListening) {
    this.__benchListening = true;
    this.addEventListener('message', (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'scan.result') window.__bench.answered[m.re] = performance.now();
    });
  }
  return send.call(this, data);
};
const seen = new Set();
new MutationObserver(() => {
  const card = document.getElementById('result');
  if (!card || !card.dataset.outcome) return;  // not an answer ("checking…")
  const id = card.dataset.scanId;
  if (seen.has(id)) return;
  seen.add(id);
  requestAnimationFrame(() => window.__bench.shown.push([id, performance.now()]));
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-scan-id', 'data-outcome']});
"""


async def roster_codes(server: PodiumServer) -> list[str]:
    organizer = server.token("organizer")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{server.url}/api/v1/participants", headers={"Authorization": f"Bearer {organizer}"}
        ) as response:
            body = await response.json()
    return [p["badge_code"] for p in body["participants"]]


async def open_scanner(server: PodiumServer, context: Any, device: str) -> Any:
    token = server.token("staff", device=device)
    page = await context.new_page()
    await page.add_init_script(PROBE)
    await page.goto(f"{server.url}/scan#token={token}")
    await page.locator("#conn[data-state=live]").wait_for()
    await page.select_option("#session", "opening")
    return page


async def bench_wedge(server: PodiumServer, browser: Any, scans: int) -> dict[str, list[float]]:
    codes = await roster_codes(server)
    context = await browser.new_context()
    page = await open_scanner(server, context, "bench-wedge")
    for n in range(scans):
        code = codes[n % len(codes)]
        # in for everyone, then out, then in...: every scan is recorded
        if (n // len(codes)) % 2 == 1 and await page.locator("#dir-out").is_checked() is False:
            await page.locator("label[for=dir-out]").click()
        elif (n // len(codes)) % 2 == 0 and await page.locator("#dir-in").is_checked() is False:
            await page.locator("label[for=dir-in]").click()
        await page.locator("#code").focus()
        await page.keyboard.insert_text(code)  # a wedge types in a burst: one event here
        await page.keyboard.press("Enter")
        await page.wait_for_function("n => window.__bench.shown.length >= n", arg=n + 1)
    data = await page.evaluate("window.__bench")
    await context.close()
    card = [shown - enter for enter, (_, shown) in zip(data["enter"], data["shown"], strict=True)]
    server_part = [
        data["answered"][rid] - sent
        for rid, sent in data["sent"].items()
        if rid in data["answered"]
    ]
    return {"card": card, "server": server_part}


async def bench_camera(server: PodiumServer, playwright: Any, seconds: float) -> dict[str, Any]:
    codes = await roster_codes(server)
    with tempfile.TemporaryDirectory() as tmp:
        video = write_y4m(Path(tmp) / "badge.y4m", codes[0])
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        try:
            context = await browser.new_context(permissions=["camera"])
            page = await open_scanner(server, context, "bench-camera")
            await page.locator("#camera-toggle").click()
            await page.locator("#result[data-outcome]").wait_for(timeout=30_000)
            await page.wait_for_timeout(seconds * 1000)
            note = page.locator("#camera-note")
            stats = {
                "decoder": await note.get_attribute("data-decoder"),
                "frames": int(await note.get_attribute("data-frames") or 0),
                "p50": float(await note.get_attribute("data-p50") or "nan"),
                "p95": float(await note.get_attribute("data-p95") or "nan"),
            }
        finally:
            await browser.close()
    return stats


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--camera-seconds", type=float, default=10.0)
    args = parser.parse_args()
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = PodiumServer(Path(tmp), free_port())
        await server.start()
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS
                )
                load_before = os.getloadavg()[0]
                wedge = await bench_wedge(server, browser, args.scans)
                await browser.close()
                camera = await bench_camera(server, playwright, args.camera_seconds)
                load_after = os.getloadavg()[0]
        finally:
            await server.stop()
    card, server_part = wedge["card"], wedge["server"]
    print(f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after; 127.0.0.1")
    print(f"{'measure':44} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    rows = [
        ("wedge: Enter -> card painted", card),
        ("  of which: scan sent -> answer (ws+server)", server_part),
    ]
    for label, values in rows:
        print(
            f"{label:44} {len(values):>5} {pct(values, 0.5):>8.1f} {pct(values, 0.95):>8.1f}"
            f" {max(values):>8.1f}"
        )
    share = statistics.median(server_part) / statistics.median(card)
    print(f"  ws+server share of the median: {share:.2f}; goal p50 < 150 ms")
    print(
        f"camera ({camera['decoder']}): {camera['frames']} frames,"
        f" decode p50 {camera['p50']:.1f} ms, p95 {camera['p95']:.1f} ms per frame"
    )


if __name__ == "__main__":
    asyncio.run(main())
