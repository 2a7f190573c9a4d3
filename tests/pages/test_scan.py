"""`/scan`, the door scanner, in headless Chromium against a real `podium serve --demo`:
a USB scanner (keyboard wedge), the camera (a fake one playing a badge's QR code),
manual search in Chinese and pinyin, offline scans kept and sent once, undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from fake_camera import write_y4m
from pages_harness import PodiumServer, assert_accessible, screenshots

SESSION = "opening"  # the demo's session live now, in Hall 1


async def badges(podium: PodiumServer) -> dict[str, dict[str, Any]]:
    """The demo roster with each badge code, as the organizer's API gives it."""
    organizer = await podium.token("organizer")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{podium.url}/api/v1/participants", headers={"Authorization": f"Bearer {organizer}"}
        ) as response:
            assert response.status == 200
            body = await response.json()
    return {p["id"]: p for p in body["participants"]}


async def open_scanner(podium: PodiumServer, context: Any, device: str = "door-A-1") -> Any:
    token = await podium.token("staff", device=device)
    page = await context.new_page()
    await page.goto(f"{podium.url}/scan#token={token}")
    await page.locator("body[data-ready=true]").wait_for()
    await page.locator("#conn[data-state=live]").wait_for()
    await page.select_option("#session", SESSION)
    return page


async def wedge(page: Any, code: str) -> None:
    """A USB barcode scanner: the code typed fast, then Enter, into whatever has focus."""
    await page.keyboard.type(code, delay=2)
    await page.keyboard.press("Enter")


async def test_a_wedge_scan_checks_a_trainee_in_and_the_card_names_them(
    podium: PodiumServer, browser: Any
) -> None:
    people = await badges(podium)
    person = people["T001"]
    context = await browser.new_context(locale="en-GB")
    page = await open_scanner(podium, context)
    assert "token" not in page.url
    await wedge(page, person["badge_code"])
    card = page.locator("#result[data-outcome=accepted]")
    await card.wait_for()
    text = await card.inner_text()
    assert "Welcome in" in text and person["name"] in text and person["province"] in text
    assert await page.locator("#inside").inner_text() == "1" or await _inside_soon(page, "1")
    await assert_accessible(page)
    await screenshots(page, "scan-accepted")
    # the same badge again: amber, already inside since the first scan
    await wedge(page, person["badge_code"])
    await page.locator("#result[data-outcome=already_inside]").wait_for()
    assert "Already inside since" in await page.locator("#result").inner_text()
    await context.close()


async def _inside_soon(page: Any, value: str) -> bool:
    await page.wait_for_function(
        "v => document.getElementById('inside').textContent === v", arg=value
    )
    return True


async def test_the_camera_reads_a_badge_once_however_long_it_is_held_up(
    podium: PodiumServer, launch_browser: Any, tmp_path: Path
) -> None:
    """Chromium's fake camera plays a demo badge's QR code (drawn with segno, written as
    .y4m frames): decoded in the page (no BarcodeDetector in this Chromium: the vendored
    zxing-wasm), checked in once though the code stays in view for seconds."""
    person = (await badges(podium))["T002"]
    video = write_y4m(tmp_path / "badge.y4m", person["badge_code"])
    browser = await launch_browser(
        [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ]
    )
    context = await browser.new_context(locale="en-GB", permissions=["camera"])
    page = await open_scanner(podium, context, device="door-cam")
    await page.get_by_role("button", name="Start camera").click()
    await page.locator("#result[data-outcome=accepted]").wait_for(timeout=20_000)
    assert person["name"] in await page.locator("#result").inner_text()
    assert "zxing-wasm" in await page.locator("#camera-note").inner_text()
    # held in view for 3 s more (~30 frames decoded): still one scan
    await page.wait_for_timeout(3000)
    assert await page.locator("#recent li").count() == 1
    frames = int(await page.locator("#camera-note").get_attribute("data-frames") or 0)
    assert frames >= 10, frames
    await screenshots(page, "scan-camera")
    await context.close()
