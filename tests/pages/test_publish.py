"""`/publish/{session}`: a speaker with a fake camera goes live from the browser; a
watch page in another browser plays it; the publisher's network is cut and restored
and the viewer carries on. Clear messages for a refused token, a session already being
published and a camera denied."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pages_harness import (
    LaunchBrowser,
    PodiumServer,
    assert_accessible,
    screenshots,
)
from test_watch import video_progress, wait_playing

SESSION = "overseas-oxentia"  # the talk given online from Oxford
FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


async def open_publisher(launch_browser: LaunchBrowser, url: str) -> Any:
    browser = await launch_browser(FAKE_MEDIA)
    context = await browser.new_context(locale="en-GB", permissions=["camera", "microphone"])
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_role("button", name="Turn on camera and microphone").click()
    await page.locator("#golive:enabled").wait_for()
    return page


def udp_ports() -> set[int]:
    """Local ports of every IPv4 UDP socket in this network namespace."""
    ports = set()
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        local = line.split()[1]
        ports.add(int(local.split(":")[1], 16))
    return ports


class LoopbackCut:
    """Drops loopback packets to and from some UDP ports (tc htb + u32 on `lo`: the test
    network namespace holds only `lo`): a network cut for one peer, not for the others."""

    def __init__(self) -> None:
        self.active = False
        self._tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10")
        self._tc("class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb",
                 "rate", "10gbit")  # fmt: skip
        # A class that lets (almost) nothing through: classifying into it is the cut.
        self._tc("class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb",
                 "rate", "8bit", "ceil", "8bit", "burst", "1", "cburst", "1")  # fmt: skip
        self._tc("qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo",
                 "limit", "1")  # fmt: skip

    @staticmethod
    def _tc(*args: str) -> None:
        result = subprocess.run(["tc", *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(
                f"tc {' '.join(args)}: {result.stderr.strip()} (run the page tests with "
                "`make pytest`: they need their own network namespace)"
            )

    def cut(self, ports: set[int]) -> None:
        for port in sorted(ports):
            for field in ("sport", "dport"):
                self._tc("filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip",
                         "prio", "1", "u32", "match", "ip", field, str(port), "0xffff",
                         "flowid", "1:20")  # fmt: skip
        self.active = True

    def restore(self) -> None:
        if self.active:
            self._tc("filter", "del", "dev", "lo", "parent", "1:", "prio", "1")
            self.active = False

    def close(self) -> None:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)


async def wait_text(locator: Any, text: str, timeout_s: float = 30.0) -> None:
    await locator.filter(has_text=text).wait_for(timeout=timeout_s * 1000)


async def test_speaker_goes_live_and_viewers_survive_a_network_cut(
    quiet_podium: PodiumServer, launch_browser: LaunchBrowser, browser: Any
) -> None:
    speaker = quiet_podium.token("speaker", session=SESSION)
    trainee = quiet_podium.token("trainee", participant="T002")
    publisher = await open_publisher(
        launch_browser, f"{quiet_podium.url}/publish/{SESSION}#token={speaker}"
    )
    assert "token" not in publisher.url
    # The level meter moves with the fake microphone's beeps.
    levels = set()
    for _ in range(20):
        levels.add(round(await publisher.locator("#level").evaluate("m => m.value"), 2))
        await asyncio.sleep(0.1)
    assert len(levels) > 1, levels
    before = udp_ports()
    await publisher.get_by_role("button", name="Go live").click()
    await wait_text(publisher.locator("#live-status"), "You are live")
    publisher_ports = udp_ports() - before
    assert publisher_ports, "the publisher's peer connection opened no UDP socket?"

    viewer_context = await browser.new_context(locale="en-GB")
    viewer = await viewer_context.new_page()
    await viewer.goto(f"{quiet_podium.url}/watch/{SESSION}#token={trainee}")
    await wait_playing(viewer)
    await wait_text(publisher.locator("#viewers"), "1 online viewer", 15)
    assert "Live for" in await publisher.locator("#elapsed").inner_text()
    await assert_accessible(publisher)
    await screenshots(publisher, "publish-live")

    cut = LoopbackCut()
    try:
        cut.cut(publisher_ports)
        await publisher.context.set_offline(True)
        await wait_text(publisher.locator("#live-status"), "Connection lost", 30)
        frozen = await video_progress(viewer)
        await asyncio.sleep(2)
        assert (await video_progress(viewer))["frames"] - frozen["frames"] < 10  # really cut
        await screenshots(publisher, "publish-reconnecting")
        cut.restore()
        await publisher.context.set_offline(False)
        await wait_text(publisher.locator("#live-status"), "You are live", 40)
    finally:
        cut.restore()
        cut.close()
    # The viewer carries on by itself: pictures advance again on the same page.
    await wait_playing(viewer, 30)
    await wait_text(viewer.locator("#player-status"), "Playing live", 10)
    await publisher.get_by_role("button", name="End broadcast").click()
    await wait_text(publisher.locator("#setup-status"), "broadcast has ended", 10)
    await viewer_context.close()


async def test_refused_token_busy_session_and_denied_camera_are_explained(
    quiet_podium: PodiumServer, launch_browser: LaunchBrowser
) -> None:
    speaker = quiet_podium.token("speaker", session=SESSION)
    # A token whose signature is wrong: readable claims, refused by the server.
    forged = speaker[:-4] + ("AAAA" if not speaker.endswith("AAAA") else "BBBB")
    page = await open_publisher(
        launch_browser, f"{quiet_podium.url}/publish/{SESSION}#token={forged}"
    )
    await page.get_by_role("button", name="Go live").click()
    await wait_text(page.locator("#problem"), "may not publish this session", 15)
    assert await page.locator("#golive").is_visible()  # can try again with another link

    # Live on one device: a second one is told the session is already being broadcast.
    first = await open_publisher(
        launch_browser, f"{quiet_podium.url}/publish/{SESSION}#token={speaker}"
    )
    await first.get_by_role("button", name="Go live").click()
    await wait_text(first.locator("#live-status"), "You are live")
    second = await open_publisher(
        launch_browser, f"{quiet_podium.url}/publish/{SESSION}#token={speaker}"
    )
    await second.get_by_role("button", name="Go live").click()
    await wait_text(second.locator("#problem"), "already being broadcast", 15)
    await assert_accessible(second)
    await screenshots(second, "publish-busy")
    await first.get_by_role("button", name="End broadcast").click()

    # No fake-UI flag and no permission granted: the browser refuses the camera.
    browser = await launch_browser(["--use-fake-device-for-media-stream"])
    context = await browser.new_context(locale="zh-CN")
    denied = await context.new_page()
    await denied.goto(f"{quiet_podium.url}/publish/{SESSION}#token={speaker}")
    started = time.monotonic()
    await denied.get_by_role("button", name="打开摄像头和麦克风").click()
    await wait_text(denied.locator("#problem"), "浏览器未获准使用摄像头", 15)
    assert time.monotonic() - started < 15
    assert await denied.locator("#golive").is_disabled()
    await assert_accessible(denied)
    await screenshots(denied, "publish-denied-zh")
