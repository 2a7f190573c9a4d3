"""`/watch/{session}`: the trainee's page plays the demo lecture in headless Chromium,
the server then counts the trainee online, and the page shows their own minutes; in
Chinese; the kiosk view plays full screen without controls; no serious axe finding."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from pages_harness import PodiumServer, assert_accessible, screenshots

PLAY_TIMEOUT_S = 20.0


async def video_progress(page: Any) -> dict[str, float]:
    return await page.evaluate(
        """() => {
            const v = document.querySelector('video');
            const q = v.getVideoPlaybackQuality();
            return {time: v.currentTime, frames: q.totalVideoFrames, width: v.videoWidth};
        }"""
    )


async def wait_playing(page: Any, timeout_s: float = PLAY_TIMEOUT_S) -> dict[str, float]:
    """Video time and decoded frames advance: pictures really arrive and are decoded."""
    deadline = time.monotonic() + timeout_s
    first = await video_progress(page)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await video_progress(page)
        if now["time"] > first["time"] + 0.5 and now["frames"] > first["frames"] + 5:
            return now
    raise AssertionError(f"video does not advance: {first} -> {await video_progress(page)}")


async def attendance(podium: PodiumServer, session: str, token: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{podium.url}/api/v1/sessions/{session}/attendance",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def test_trainee_watches_and_is_counted_online(podium: PodiumServer, browser: Any) -> None:
    watch_url = podium.demo_url("Trainee watch page")
    session = watch_url.split("/watch/")[1].split("#")[0]
    organizer = podium.token("organizer")
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(watch_url)
    assert "token" not in page.url  # taken from the fragment, out of the address bar
    progress = await wait_playing(page)
    assert progress["width"] > 0
    assert "Playing" in await page.locator("#player-status").inner_text()
    assert await page.locator("#overlay").is_hidden()
    # What is counted is said plainly.
    counted = await page.locator("#counted").inner_text()
    assert "No camera" in counted and "microphone" in counted

    # The server measured delivery (receiver reports): the trainee is online.
    deadline = time.monotonic() + 20
    while (figures := await attendance(podium, session, organizer))["online"] < 1:
        assert time.monotonic() < deadline, figures
        await asyncio.sleep(0.5)
    # ... and counts the time delivered to this trainee (the meter reports an open
    # interval again every 15 s).
    deadline = time.monotonic() + 40
    while True:
        figures = await attendance(podium, session, organizer)
        row = next(r for r in figures["trainees"] if r["participant"] == "T001")
        if row["online_s"] > 0:
            break
        assert time.monotonic() < deadline, row
        await asyncio.sleep(1)
    assert row["status"] in ("partial", "attended")

    # The page shows the trainee's own figure from the server.
    # The page's own figure comes from the server too (refreshed every 30 s): it moves
    # off zero now that the server has counted something.
    await page.locator("#attended").filter(has_text="min").wait_for(timeout=10_000)
    await page.locator("#attended").filter(has_not_text="0 min").wait_for(timeout=45_000)
    assert "Online" in await page.locator("#attended-detail").inner_text()
    await assert_accessible(page)
    await screenshots(page, "watch-en")
    await context.close()


async def test_watch_page_in_chinese(podium: PodiumServer, browser: Any) -> None:
    watch_url = podium.demo_url("Trainee watch page")
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    sent: list[dict[str, Any]] = []  # what the page says over /ws, watched from outside
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(json.loads(f))))
    await page.goto(watch_url)
    await wait_playing(page)
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    assert "正在直播" in await page.locator("#player-status").inner_text()
    assert "不使用摄像头" in await page.locator("#counted").inner_text()
    assert await page.locator("#attendance-heading").inner_text() == "您的出勤"
    await page.locator("#attended").filter(has_text="分钟").wait_for(timeout=40_000)
    # A trainee's page announces itself: hello with its token, then presence.
    assert sent[0]["type"] == "hello" and sent[0]["device"] == "watch-opening"
    presence = [f for f in sent if f["type"] == "presence"]
    assert presence and presence[0]["session"] == "opening"
    assert presence[0]["state"] == "watching"
    await assert_accessible(page)
    await screenshots(page, "watch-zh")
    await context.close()


async def test_kiosk_plays_full_screen_without_controls(podium: PodiumServer, browser: Any) -> None:
    watch_url = podium.demo_url("Trainee watch page")
    session = watch_url.split("/watch/")[1].split("#")[0]
    organizer = podium.token("organizer")
    context = await browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    await page.goto(f"{podium.url}/watch/{session}?kiosk#token={organizer}")
    await wait_playing(page)
    box = await page.locator("video").bounding_box()
    assert box is not None and box["width"] == 1280 and box["height"] == 720
    for hidden in (".topbar", "#player-status", "#attendance", "#rest", "#unmute"):
        assert await page.locator(hidden).is_hidden(), hidden
    assert await page.locator("button:visible, a:visible").count() == 0  # no controls
    assert await page.evaluate("document.querySelector('video').controls") is False
    await assert_accessible(page)
    await screenshots(page, "watch-kiosk")
    await context.close()
