"""`/`: the programme (live now, next, every session) in English and Chinese, links by
role, no serious accessibility finding; the static files' cache headers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from pages_harness import PodiumServer, assert_accessible, screenshots


async def test_programme_in_english_and_chinese(podium: PodiumServer, browser: Any) -> None:
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{podium.url}/")
    # The demo moves the programme so a streamed session is live now.
    await page.locator("#now-list .live-badge").first.wait_for()
    assert await page.title() != "Podium"  # the event's title once loaded
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.locator("h1").inner_text() == "Programme"
    assert await page.locator("#now-list h3").count() >= 1
    assert "Starts" in await page.locator("#next-list").inner_text()
    # One block per calendar day of the programme, in the event's timezone (the demo
    # moves its two days so that a talk is live now: they may spread over three dates).
    event = await (await page.request.get(f"{podium.url}/api/v1/event")).json()
    zone = ZoneInfo(event["timezone"])
    dates = {datetime.fromisoformat(s["start"]).astimezone(zone).date() for s in event["sessions"]}
    days = page.locator("#days > section")
    assert await days.count() == len(dates) >= 2
    await assert_accessible(page)
    await screenshots(page, "index-en")

    await page.get_by_role("button", name="简体中文").click()
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    assert await page.locator("h1").inner_text() == "日程"
    assert "直播中" in await page.locator("#now-list").inner_text()
    await assert_accessible(page)
    await screenshots(page, "index-zh")
    await context.close()

    # A browser set to Chinese gets Chinese without touching the switch.
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{podium.url}/")
    await page.locator("#now-list .live-badge").first.wait_for()
    assert await page.locator("h1").inner_text() == "日程"
    await context.close()


async def test_links_follow_the_role_and_the_token_leaves_the_address_bar(
    podium: PodiumServer, browser: Any
) -> None:
    speaker = podium.token("speaker", session="overseas-oxentia")
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{podium.url}/#token={speaker}")
    await page.locator("#role-links:not([hidden])").wait_for()
    assert "token" not in page.url
    publish = page.locator("#role-actions a")
    assert await publish.get_attribute("href") == "/publish/overseas-oxentia"
    assert await page.locator("#role").inner_text() == "Speaker"
    # Kept for this tab: a reload still knows the role.
    await page.reload()
    await page.locator("#role-links:not([hidden])").wait_for()
    assert await page.locator("#role").inner_text() == "Speaker"
    await context.close()


async def test_static_files_carry_cache_headers(podium: PodiumServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{podium.url}/static/js/i18n.js") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/javascript")
            assert response.headers["Cache-Control"] == "no-cache"
            etag = response.headers["ETag"]
        async with http.get(
            f"{podium.url}/static/js/i18n.js", headers={"If-None-Match": etag}
        ) as response:
            assert response.status == 304
        for path in ("/static/../app.py", "/static/js/", "/static/js/nope.js"):
            async with http.get(f"{podium.url}{path}") as response:
                assert response.status == 404, path
