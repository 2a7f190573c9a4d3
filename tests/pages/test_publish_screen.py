"""Screen share: a speaker shows their screen and goes live, then switches to the camera
while live without going off air. (Whether viewers play a publish page's stream is
shown with the camera in test_publish.py; a headless screen changes too rarely to
count frames on.)"""

from __future__ import annotations

from pages_harness import LaunchBrowser, PodiumServer, assert_accessible
from test_publish import FAKE_MEDIA, SESSION

TRACKS = (
    "document.querySelector('#preview').srcObject.getTracks().map((t) => t.kind + ':' + t.label)"
)


async def test_screen_share_then_camera_while_live(
    podium: PodiumServer, launch_browser: LaunchBrowser
) -> None:
    speaker = podium.token("speaker", session=SESSION)
    publisher_browser = await launch_browser([*FAKE_MEDIA, "--auto-accept-this-tab-capture"])
    context = await publisher_browser.new_context(
        locale="en-GB", permissions=["camera", "microphone"]
    )
    page = await context.new_page()
    await page.goto(f"{podium.url}/publish/{SESSION}#token={speaker}")
    await page.get_by_role("radio", name="Screen share").check()
    assert await page.locator("#camera-field").is_hidden()  # no camera to choose
    await page.get_by_role("button", name="Choose a screen and turn on the microphone").click()
    await page.locator("#golive:enabled").wait_for()
    tracks = await page.evaluate(TRACKS)
    assert any(t.startswith("video:screen") for t in tracks), tracks
    assert any(t.startswith("audio:") for t in tracks), tracks
    await page.get_by_role("button", name="Go live").click()
    await page.locator("#live-status").filter(has_text="You are live").wait_for(timeout=30_000)

    await page.get_by_role("radio", name="Camera").check()
    await page.wait_for_function(
        # A function, not an expression: the page's CSP forbids eval, which a bare
        # expression needs.
        f"() => {TRACKS}.some((t) => t.startsWith('video:') && !t.startsWith('video:screen'))"
    )
    assert await page.locator("#camera-field").is_visible()
    assert "You are live" in await page.locator("#live-status").inner_text()
    assert await page.locator("#end").is_visible()
    await assert_accessible(page)
    await context.close()
