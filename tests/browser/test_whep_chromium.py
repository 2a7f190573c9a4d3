"""WHEP playback in real Chromium (libwebrtc), from a page on another origin.

An aiortc publisher sends pre-encoded VP8 + Opus by WHIP to a real Podium app; a plain
JS page served from a different port (so CORS preflight and the exposed `Location`
header are exercised) plays the session by WHEP into a <video>, and later DELETEs its
resource. The test checks that Chromium decodes advancing frames and that the server
closed the viewer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from browser_harness import Browser, peers
from browser_pages import WHEP_PAGE

from podium_http import Podium, wait_until


async def test_chromium_plays_whep_from_another_origin(
    podium: Podium,
    pages: Callable[[dict[str, str]], str],
    browser: Browser,
    vp8_packets: list[Any],
) -> None:
    whip = podium.sdp_exchange("/whip/s1", podium.token("speaker", session="s1"))
    publisher = await peers.publish(whip, vp8_packets)
    try:
        origin = pages({"/whep.html": WHEP_PAGE})
        assert origin.split(":")[-1] != podium.url.split(":")[-1], "page must be cross-origin"
        query = urlencode(
            {
                "endpoint": f"{podium.url}/whep/s1",
                "token": podium.token("trainee", participant="P1"),
            }
        )
        await browser.get(f"{origin}/whep.html?{query}")
        first = await browser.wait_for(
            lambda s: s.get("rvfc", 0) >= 5 and s.get("framesDecoded", 0) >= 5,
            within=10,
            what="Chromium to decode video frames",
        )
        assert podium.viewers == 1
        await asyncio.sleep(1)
        later = await browser.state()
        await browser.screenshot("whep-playing")
        # Frames keep advancing: at 30 fps a second adds far more than 10.
        assert later["framesDecoded"] >= first["framesDecoded"] + 10, (first, later)
        assert later["rvfc"] >= first["rvfc"] + 10, (first, later)
        assert (later["width"], later["height"]) == (320, 180)
        assert later["codec"] == "video/VP8"
        assert later.get("audioPackets", 0) > 0, "no Opus packets reached Chromium"
        assert later["location"].startswith("/whep/s1/")

        await browser.js("window.hangUp()")
        closed = await browser.wait_for(
            lambda s: s.get("deleteStatus") is not None, within=5, what="DELETE"
        )
        assert closed["deleteStatus"] == 200, closed
        assert await wait_until(lambda: podium.viewers == 0, within=5), (
            "the server kept the viewer after DELETE"
        )
        assert podium.publishers == 1
        # Chromium asked before the authorized POST and before the DELETE.
        assert podium.preflights(origin) == ["/whep/s1", later["location"]], podium.requests
    finally:
        await publisher.close()


async def test_chromium_viewer_survives_a_publisher_reconnect(
    podium: Podium,
    pages: Callable[[dict[str, str]], str],
    browser: Browser,
    vp8_packets: list[Any],
) -> None:
    """The publisher drops and a new one comes (new SSRC, new sequence numbers and
    timestamps): Chromium's stream goes on, same SSRC, no loss counted, frames advance."""
    speaker = podium.token("speaker", session="s1")
    locations: list[str] = []

    async def whip(sdp: str) -> str:
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"{podium.url}/whip/s1",
                data=sdp,
                headers={"Authorization": f"Bearer {speaker}", "Content-Type": "application/sdp"},
            )
            assert response.status == 201, await response.text()
            locations.append(response.headers["Location"])
            return await response.text()

    first_publisher = await peers.publish(whip, vp8_packets)
    second_publisher = None
    try:
        origin = pages({"/whep.html": WHEP_PAGE})
        token = podium.token("trainee", participant="P1")
        query = urlencode({"endpoint": f"{podium.url}/whep/s1", "token": token})
        await browser.get(f"{origin}/whep.html?{query}")
        before = await browser.wait_for(
            lambda s: s.get("framesDecoded", 0) >= 15, within=10, what="frames"
        )
        async with aiohttp.ClientSession() as http:
            response = await http.delete(
                f"{podium.url}{locations[0]}", headers={"Authorization": f"Bearer {speaker}"}
            )
            assert response.status == 200
        await first_publisher.close()
        assert await wait_until(lambda: podium.publishers == 0, within=5)
        await asyncio.sleep(0.5)
        gap = await browser.state()
        second_publisher = await peers.publish(whip, vp8_packets)
        after = await browser.wait_for(
            lambda s: s.get("framesDecoded", 0) >= gap["framesDecoded"] + 30,
            within=10,
            what="frames from the second publisher",
        )
        await browser.screenshot("whep-after-reconnect")
        assert podium.viewers == 1
        assert after["inbound"]["ssrc"] == before["inbound"]["ssrc"]
        assert after["inbound"]["packetsLost"] <= 2, after["inbound"]
        assert after["inbound"]["keyFramesDecoded"] >= 2, after["inbound"]
        assert (after["width"], after["height"]) == (320, 180)
    finally:
        await first_publisher.close()
        if second_publisher is not None:
            await second_publisher.close()


@pytest.mark.parametrize("podium", ["demo"], indirect=True)
async def test_chromium_plays_the_demo_lecture(
    podium: Podium, pages: Callable[[dict[str, str]], str], browser: Browser
) -> None:
    """`--demo`'s synthetic lecture (encoded once on the server) plays in Chromium."""
    origin = pages({"/whep.html": WHEP_PAGE})
    token = podium.token("trainee", participant="P1")
    query = urlencode({"endpoint": f"{podium.url}/whep/s1", "token": token})
    await browser.get(f"{origin}/whep.html?{query}")
    first = await browser.wait_for(
        lambda s: s.get("rvfc", 0) >= 5 and s.get("framesDecoded", 0) >= 5,
        within=10,
        what="Chromium to decode the demo lecture",
    )
    await asyncio.sleep(1)
    later = await browser.state()
    await browser.screenshot("whep-demo")
    assert later["framesDecoded"] >= first["framesDecoded"] + 10, (first, later)
    assert later["width"] > 0 and later["height"] > 0, later
    assert later["firstFrameMs"] < 1000, later
    assert later.get("audioPackets", 0) > 0, "no tone from the demo reached Chromium"
    assert podium.publishers == 0  # the demo feeds the relay directly, no WHIP peer
