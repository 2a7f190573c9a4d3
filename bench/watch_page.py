"""Watch page: time from opening the watch link to the first picture, in one run.

    .venv/bin/python bench/watch_page.py [--loads 20]
    (inside the tests' loopback namespace: unshare -rn sh -c 'ip link set lo up; ...')

A real `podium serve --demo` (its synthetic lecture) on 127.0.0.1 and Debian's headless
Chromium. Each load opens the trainee's watch link; the page marks `podium:first-frame`
when the video element presents its first frame (requestVideoFrameCallback), and the
figure is that mark's time since navigation start: HTML, modules, programme, WHEP
offer/answer, ICE, DTLS, the first keyframe and its decoding, all included.
Side by side: cold loads (a fresh browser context each: no cache, token from the link)
and warm reloads (one context: modules revalidated by ETag, token from sessionStorage).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pages"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # loopback, chromium

from pages_harness import PodiumServer  # noqa: E402

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from loopback import free_port  # noqa: E402

FIRST_FRAME_TIMEOUT_MS = 20_000


async def first_frame_ms(page: Any) -> dict[str, float]:
    """ms from navigation start to the first frame, and to the WHEP answer."""
    await page.wait_for_function(
        "() => performance.getEntriesByName('podium:first-frame').length > 0",  # no eval (CSP)
        timeout=FIRST_FRAME_TIMEOUT_MS,
    )
    return await page.evaluate(
        """() => {
            const frame = performance.getEntriesByName('podium:first-frame')[0].startTime;
            const whep = performance.getEntriesByType('resource')
                .filter((r) => r.name.includes('/whep/'))[0];
            const mark = (n) => (performance.getEntriesByName(n)[0] || {startTime: -1}).startTime;
            return {frame, offer: mark('podium:offer'), gathered: mark('podium:gathered'),
                    whep_sent: whep ? whep.startTime : -1,
                    whep_answered: whep ? whep.responseEnd : -1};
        }"""
    )


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"{label:<26} p50 {statistics.median(ordered):7.0f} ms   p95 {p95:7.0f} ms"
        f"   min {ordered[0]:6.0f}   max {ordered[-1]:6.0f}"
    )


async def run(loads: int) -> None:
    from playwright.async_api import async_playwright

    workdir = Path(tempfile.mkdtemp(prefix="podium-bench-watch-"))
    server = PodiumServer(workdir, free_port())
    await server.start()
    url = server.demo_url("Trainee watch page")
    cold: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(loads):
                context = await browser.new_context()
                page = await context.new_page()
                await page.goto(url)
                cold.append(await first_frame_ms(page))
                await context.close()
                await asyncio.sleep(0.3)  # the server lets the last viewer go
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(url)
            await first_frame_ms(page)
            for _ in range(loads):
                await page.reload()
                warm.append(await first_frame_ms(page))
                await asyncio.sleep(0.3)
            await browser.close()
    finally:
        await server.stop()
    print(f"watch link -> first frame, {loads} loads each, podium serve --demo on 127.0.0.1")
    print(summary("cold (new context)", [r["frame"] for r in cold]))
    print(summary("warm (reload)", [r["frame"] for r in warm]))
    print(summary("cold: offer made at", [r["offer"] for r in cold]))
    print(summary("cold: ICE gathered at", [r["gathered"] for r in cold]))
    print(summary("cold: WHEP POST sent at", [r["whep_sent"] for r in cold]))
    print(summary("cold: WHEP answer at", [r["whep_answered"] for r in cold]))
    ratio = statistics.median(r["frame"] for r in warm) / statistics.median(
        r["frame"] for r in cold
    )
    print(f"warm / cold (p50): {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.loads))


if __name__ == "__main__":
    main()
