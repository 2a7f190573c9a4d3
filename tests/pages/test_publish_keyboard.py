"""Keyboard only: a speaker goes live and ends without a mouse; a trainee turns the sound
on. Focus is always visible and lands on the next step."""

from __future__ import annotations

import asyncio
from typing import Any

from pages_harness import LaunchBrowser, PodiumServer
from test_publish import FAKE_MEDIA, SESSION

AUTOPLAY_DECISION_S = 5.0  # WHEP answer -> first sound, with room for a loaded machine


async def tab_to(page: Any, selector: str, limit: int = 25) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
            outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"no visible focus on {selector}"
            return
    raise AssertionError(f"{selector} is not reachable by Tab")


async def test_speaker_goes_live_by_keyboard(
    podium: PodiumServer, launch_browser: LaunchBrowser
) -> None:
    speaker = podium.token("speaker", session=SESSION)
    browser = await launch_browser(FAKE_MEDIA)
    context = await browser.new_context(locale="en-GB", permissions=["camera", "microphone"])
    page = await context.new_page()
    await page.goto(f"{podium.url}/publish/{SESSION}#token={speaker}")
    await tab_to(page, "#preview-btn")
    await page.keyboard.press("Enter")
    await page.locator("#golive:enabled").wait_for()
    assert await page.evaluate("document.activeElement.id") == "golive"
    await page.keyboard.press("Enter")
    await page.locator("#live-status").filter(has_text="You are live").wait_for(timeout=30_000)
    await tab_to(page, "#end")
    await page.keyboard.press("Enter")
    await page.locator("#setup-status").filter(has_text="ended").wait_for()
    assert await page.evaluate("document.activeElement.id") == "golive"
    await context.close()


async def test_trainee_turns_sound_on_by_keyboard(
    podium: PodiumServer, launch_browser: LaunchBrowser
) -> None:
    # As on most phones: no sound before the user has touched the page.
    browser = await launch_browser(["--autoplay-policy=user-gesture-required"])
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    async with page.expect_response(lambda r: "/whep/" in r.url):
        await page.goto(podium.demo_url("Trainee watch page"))
    # Hands off while the page decides about sound: Playwright's evaluate and locator
    # calls count as user gestures, which would let the sound start by itself.
    await asyncio.sleep(AUTOPLAY_DECISION_S)
    unmute = page.locator("#unmute")
    assert await unmute.is_visible()
    assert await page.evaluate("document.querySelector('video').muted") is True
    assert "Sound is off" in await page.locator("#player-status").inner_text()
    await tab_to(page, "#unmute")
    await page.keyboard.press("Enter")
    await unmute.wait_for(state="hidden")
    assert await page.evaluate("document.querySelector('video').muted") is False
    assert await page.evaluate("document.querySelector('video').paused") is False
    await context.close()
