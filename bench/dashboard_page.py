"""The dashboard page's own cost per live update, in headless Chromium, with the demo's
180 trainees: a real `podium serve --demo` and a door scanner scanning trainees in and
out of the live session at --rate scans a second, so every update changes the counts,
both breakdowns and the recent scans.

Prints, per viewport (phone 360x740 and desktop 1280x800, side by side in one run):
- script time of one update's render (the page's `dashboard-render` measure) p50/p99/max,
  against the 16.7 ms of one frame at 60 Hz;
- the same for a whole re-render (`dashboard-render-all`: the snapshot, a language
  change), for comparison;
- Chromium's own accounting while the scans run (CDP Performance.getMetrics: script,
  style recalculation, layout) divided by the updates received: what an update costs
  the page's main thread in all (an upper bound: the arrivals chart's refetches too).

The machine is shared: figures are meant as ratios within one run, not absolutes.

    python bench/dashboard_page.py [--seconds 15] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # shared helpers

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from loopback import free_port  # noqa: E402
from percentile import pct  # noqa: E402
from podium_server.auth import BadgeSigner, TokenSigner, load_or_create_secret  # noqa: E402

VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
FRAME_MS = 1000 / 60
LIVE = "opening"  # the demo's live session


async def wait_ready(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("podium serve did not become ready")


async def scan_loop(base: str, staff: str, codes: list[str], rate: float, seconds: float) -> int:
    """Scan random trainees in (or out, when inside) at `rate` a second; how many sent."""
    inside: set[int] = set()
    rng = random.Random(7)
    sent = 0
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(base.replace("http", "ws", 1) + "/ws")
        await ws.send_json({"type": "hello", "id": "h", "token": staff, "device": "bench-door"})
        await ws.receive_json(timeout=10)
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            n = rng.randrange(len(codes))
            direction = "out" if n in inside else "in"
            inside.symmetric_difference_update({n})
            frame = {"type": "scan", "id": f"s{sent}", "code": codes[n]}
            await ws.send_json(frame | {"session": LIVE, "direction": direction})
            while (await ws.receive_json(timeout=10)).get("re") != f"s{sent}":
                pass
            sent += 1
            await asyncio.sleep(max(0.0, sent / rate - elapsed))
        await ws.close()
    return sent


async def measure(args: argparse.Namespace, base: str, secret: bytes) -> dict[str, Any]:
    tokens = TokenSigner(secret)
    now = time.time()
    organizer = tokens.issue("organizer", now=now)
    staff = tokens.issue("staff", now=now)
    badges = BadgeSigner.from_secret(secret)
    codes = [badges.code_for(f"T{i:03d}") for i in range(1, 181)]
    results: dict[str, Any] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = {}
        for name, size in VIEWPORTS.items():
            ctx = await browser.new_context(viewport=size, locale="en-GB")
            page = await ctx.new_page()
            await page.goto(f"{base}/dashboard#token={organizer}")
            await page.locator("#conn[data-state='live']").wait_for()
            await page.locator("#now-registered", has_text="180").wait_for()
            # every language change re-renders everything: a sample of whole renders
            for _ in range(10):
                for button in ("简体中文", "English"):
                    await page.get_by_role("button", name=button).click()
            await page.evaluate("performance.clearMeasures('dashboard-render')")
            cdp = await ctx.new_cdp_session(page)
            await cdp.send("Performance.enable")
            pages[name] = (page, cdp, await metrics(cdp))  # from here on: updates only
        sent = await scan_loop(base, staff, codes, args.rate, args.seconds)
        await asyncio.sleep(1.0)
        for name, (page, cdp, before) in pages.items():
            after = await metrics(cdp)
            updates = await page.evaluate(
                "performance.getEntriesByName('dashboard-render').map(e => e.duration)"
            )
            whole = await page.evaluate(
                "performance.getEntriesByName('dashboard-render-all').map(e => e.duration)"
            )
            n = max(1, len(updates))
            results[name] = {
                "updates": len(updates),
                "render_ms": (pct(updates, 0.5), pct(updates, 0.99), max(updates, default=0)),
                "render_all_ms": (pct(whole, 0.5), pct(whole, 0.99)),
                # over the scans (the updates, their WebSocket frames and the arrivals
                # chart's fetches): an upper bound of one update's cost
                "main_thread_ms_per_update": {
                    k: 1000 * (after[k] - before[k]) / n
                    for k in ("ScriptDuration", "RecalcStyleDuration", "LayoutDuration")
                },
            }
        await browser.close()
    results["sent"] = sent
    return results


async def metrics(cdp: Any) -> dict[str, float]:
    answer = await cdp.send("Performance.getMetrics")
    return {m["name"]: float(m["value"]) for m in answer["metrics"]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=20.0, help="door scans a second")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="podium-bench-dashboard-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret_file = work / "secret.key"
    secret = load_or_create_secret(secret_file)
    env = {**os.environ, "PODIUM_ICE_ADDRESSES": "127.0.0.1"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podium_server.cli",
            "--store",
            f"sqlite:///{work}/bench.db",
            "--secret-file",
            str(secret_file),
            "--log-level",
            "WARNING",
            "serve",
            "--demo",
            "--no-demo-stream",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "server.log").open("wb"),
    )
    try:
        asyncio.run(wait_ready(base))
        load = os.getloadavg()[0]
        results = asyncio.run(measure(args, base, secret))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{os.cpu_count()} cores, load average {load:.1f} at start; {results['sent']} scans in"
        f" {args.seconds:g}s; 180 trainees; frame budget {FRAME_MS:.1f} ms"
    )
    print(
        f"{'viewport':9} {'updates':>7} {'update render p50/p99/max':>26} {'x frame':>8}"
        f" {'whole render p50/p99':>21}  main thread per update: script / style / layout"
    )
    for name in VIEWPORTS:
        r = results[name]
        p50, p99, most = r["render_ms"]
        a50, a99 = r["render_all_ms"]
        m = r["main_thread_ms_per_update"]
        print(
            f"{name:9} {r['updates']:7d} {p50:8.2f}/{p99:6.2f}/{most:6.2f} ms {p99 / FRAME_MS:7.2f}x"
            f" {a50:9.2f}/{a99:6.2f} ms  {m['ScriptDuration']:.2f} / {m['RecalcStyleDuration']:.2f}"
            f" / {m['LayoutDuration']:.2f} ms"
        )
    print(json.dumps({k: v for k, v in results.items() if k != "sent"}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
