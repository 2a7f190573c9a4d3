"""`/dashboard` in headless Chromium against a real `podium serve --demo`: the event's
figures, live counts that follow a door scan and a trainee watching, reconnection after
a server restart, Chinese and large type, and who may open it."""

from __future__ import annotations

import time
from typing import Any

from organizer_peers import Scanner, Viewer, badge_codes
from pages_harness import PodiumServer, assert_accessible, screenshots

LIVE = "opening"  # the demo moves its programme so the opening is live now


async def text_of(page: Any, selector: str) -> str:
    return str(await page.locator(selector).inner_text()).strip()


async def wait_text(page: Any, selector: str, expected: str, timeout_ms: float) -> float:
    """Seconds until `selector` shows `expected` (fails after timeout_ms)."""
    started = time.monotonic()
    await page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
        arg=[selector, expected],
        timeout=timeout_ms,
    )
    return time.monotonic() - started


async def open_dashboard(podium: PodiumServer, browser: Any, **context: Any) -> tuple[Any, Any]:
    organizer = podium.token("organizer", device="dash-test")
    ctx = await browser.new_context(locale="en-GB", **context)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.errors = errors
    await page.goto(f"{podium.url}/dashboard#token={organizer}")
    await page.locator("#conn[data-state='live']").wait_for()
    await wait_text(page, "#now-registered", "180", 10_000)
    return ctx, page


async def test_the_dashboard_follows_a_scan_and_a_trainee_live(
    podium: PodiumServer, browser: Any
) -> None:
    ctx, page = await open_dashboard(podium, browser)
    assert "token" not in page.url  # the token left the address bar
    # the seed's headline figures and the live session on top
    assert await text_of(page, "#fig-trainees") == "180"
    assert await text_of(page, "#fig-provinces") == "18"
    assert "42%" in await text_of(page, "#headline-figures")
    assert await page.locator("#session-select").input_value() == LIVE
    assert await page.locator("#focus-state.live-badge").count() == 1
    assert await text_of(page, "#now-inside") == "0"
    assert await page.locator("#province-bars li").count() == 18
    assert "0 / 52" in await text_of(page, "#province-bars")  # Guangdong, the host
    await page.locator("#arrivals-chart svg.arrivals").wait_for()

    # A door scan from another client: the page shows it within a second.
    organizer = podium.token("organizer")
    codes = await badge_codes(podium.url, organizer)
    staff = podium.token("staff", device="door-A-9")
    async with Scanner(podium.url, staff, "door-A-9") as door:
        reply = await door.scan(codes["T001"], LIVE)
        assert reply["outcome"] == "accepted", reply
        name = reply["participant"]["name"]
        lag = await wait_text(page, "#now-inside", "1", 1_000)
        province = reply["participant"]["province"]
    assert lag < 1.0
    assert await text_of(page, "#now-attended") == "1"
    assert name in await text_of(page, "#recent")
    assert "1 / " in await page.locator("#province-bars li", has_text=province).inner_text()
    row = page.locator("#sessions-body tr[data-session='opening'] td")
    assert await row.nth(0).inner_text() == "1"  # in the room
    # the arrivals chart follows (refetched at most every 3 s)
    await page.locator("#arrivals-chart .arrivals-summary", has_text="1 arrived").wait_for()
    renders = await page.evaluate(
        "performance.getEntriesByName('dashboard-render').map(e => e.duration)"
    )
    assert renders, "updates are rendered through renderUpdate (measured)"

    # A trainee starts watching the streamed session: "online" counts them once the
    # server delivers media and gets their receiver reports.
    trainee = podium.token("trainee", participant="T002")
    viewer = Viewer()
    try:
        await viewer.start(podium.url, LIVE, trainee)
        await viewer.first_frame.wait()
        waited = await wait_text(page, "#now-online", "1", 15_000)
        assert await text_of(page, "#now-attended") in ("1", "2")  # attended needs minutes
    finally:
        await viewer.close()
    print(f"scan -> page {lag * 1000:.0f} ms; first frame -> online shown {waited:.1f} s")

    await assert_accessible(page)
    await screenshots(page, "dashboard-live")
    assert page.errors == []
    await ctx.close()


async def test_the_dashboard_reconnects_by_itself(podium: PodiumServer, browser: Any) -> None:
    ctx, page = await open_dashboard(podium, browser)
    await podium.stop()
    await page.locator("#conn[data-state='offline'], #conn[data-state='connecting']").wait_for()
    assert await text_of(page, "#conn-text") == "Reconnecting…"
    await podium.start()
    await page.locator("#conn[data-state='live']").wait_for(timeout=20_000)
    assert await text_of(page, "#conn-text") == "Live"
    # live again: a scan after the restart still reaches the page
    organizer = podium.token("organizer")
    codes = await badge_codes(podium.url, organizer)
    async with Scanner(podium.url, podium.token("staff"), "door-B") as door:
        assert (await door.scan(codes["T010"], LIVE))["outcome"] == "accepted"
    await wait_text(page, "#now-inside", "1", 5_000)
    await ctx.close()


async def test_chinese_and_large_type_for_the_projector(podium: PodiumServer, browser: Any) -> None:
    ctx, page = await open_dashboard(podium, browser, viewport={"width": 1280, "height": 800})
    await page.get_by_role("button", name="简体中文").click()
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    assert await text_of(page, "#headline-heading") == "活动概况"
    assert await text_of(page, "#conn-text") == "实时"
    assert "广东" in await text_of(page, "#province-bars")
    assert "政府部门" in await text_of(page, "#org-bars")
    await assert_accessible(page)
    await screenshots(page, "dashboard-zh")
    big = page.locator("#big-type")
    await big.click()
    assert await big.get_attribute("aria-pressed") == "true"
    assert "big-type" in (await page.locator("html").get_attribute("class") or "")
    size = await page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 24  # 150% of 16 px
    await screenshots(page, "dashboard-projector")
    # kept for the next visit on this screen
    await page.reload()
    await page.locator("html.big-type").wait_for()
    await ctx.close()


async def test_only_an_organizer_link_opens_the_dashboard(
    podium: PodiumServer, browser: Any
) -> None:
    ctx = await browser.new_context(locale="en-GB")
    page = await ctx.new_page()
    await page.goto(f"{podium.url}/dashboard")
    await page.locator("#notice:not([hidden])").wait_for()
    assert "personal link" in await text_of(page, "#notice")
    staff = podium.token("staff")
    await page.goto(f"{podium.url}/dashboard#token={staff}")
    await page.reload()
    await page.locator("#notice:not([hidden])", has_text="organizers").wait_for()
    assert await page.locator("#fig-trainees").count() == 0  # nothing about the event
    await ctx.close()
