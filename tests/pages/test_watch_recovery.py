"""The watch page heals itself and says what it is doing: a server restart (the player
and the presence socket both come back); the kiosk's cards when there is nothing to
show ("starts at" before a talk, "back soon" during one without pictures)."""

from __future__ import annotations

from typing import Any

from pages_harness import PodiumServer, assert_accessible, screenshots
from test_watch import wait_playing


async def test_watch_page_comes_back_after_a_server_restart(
    podium: PodiumServer, browser: Any
) -> None:
    watch_url = podium.demo_url("Trainee watch page")
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(watch_url)
    await wait_playing(page)
    await page.locator("#conn").filter(has_text="Connected").wait_for()

    await podium.stop()
    # It says so, in words, while it retries with growing delays.
    await page.locator("#player-status").filter(has_text="Trying again").wait_for(timeout=30_000)
    await page.locator("#conn").filter(has_text="reconnecting").wait_for(timeout=30_000)
    await screenshots(page, "watch-reconnecting")
    await podium.start()
    await wait_playing(page, 40)
    await page.locator("#player-status").filter(has_text="Playing live").wait_for()
    await page.locator("#conn").filter(has_text="Connected").wait_for(timeout=30_000)
    assert page.url.endswith("/watch/opening")  # the same page, never reloaded
    await context.close()


async def test_kiosk_shows_cards_between_talks(quiet_podium: PodiumServer, browser: Any) -> None:
    organizer = quiet_podium.token("organizer")
    context = await browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    # The next talk: a "starts at" card with its title and speakers.
    await page.goto(f"{quiet_podium.url}/watch/policy?kiosk#token={organizer}")
    overlay = page.locator("#overlay")
    await overlay.filter(has_text="Starts at").wait_for()
    assert "policies on the transformation" in await overlay.inner_text()
    assert "Speakers:" in await overlay.inner_text()
    box = await overlay.bounding_box()
    assert box is not None and (box["width"], box["height"]) == (1280, 720)
    await assert_accessible(page)
    await screenshots(page, "kiosk-starts-at")

    # The live talk with no picture yet: connecting, then "back soon" while it waits.
    await page.goto(f"{quiet_podium.url}/watch/opening?kiosk")  # token kept for the tab
    await overlay.filter(has_text="Back soon").wait_for(timeout=20_000)
    assert "Opening remarks" in await overlay.inner_text()
    await screenshots(page, "kiosk-back-soon")

    # The ordinary page says the same in words.
    await page.goto(f"{quiet_podium.url}/watch/opening")
    status = page.locator("#player-status")
    await status.filter(has_text="Waiting for the speaker").wait_for(timeout=20_000)
    await context.close()
