"""Chromium to Chromium through the relay: libwebrtc publishes by WHIP (fake camera),
the relay forwards the encoded RTP untouched but for its header rewrite, and libwebrtc
plays it by WHEP in another frame of the same page. The viewer joins late (the
publisher has been sending for a second), so its first picture needs the relay's
keyframe handling, and it must appear within a second."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import pytest
from browser_harness import Browser
from browser_pages import BOTH_PAGE, WHEP_PAGE, WHIP_PAGE

from podium_http import Podium, wait_until


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_chromium_publisher_to_chromium_viewer(
    podium: Podium, pages: Any, browser: Browser, codec: str
) -> None:
    origin = pages({"/both.html": BOTH_PAGE, "/whip.html": WHIP_PAGE, "/whep.html": WHEP_PAGE})
    whip = urlencode(
        {
            "endpoint": f"{podium.url}/whip/s1",
            "token": podium.token("speaker", session="s1"),
            "codec": codec,
        }
    )
    whep = urlencode(
        {"endpoint": f"{podium.url}/whep/s1", "token": podium.token("trainee", participant="P1")}
    )
    await browser.get(f"{origin}/both.html?{urlencode({'whip': whip, 'whep': whep})}")
    await browser.wait_for(
        lambda s: s.get("framesEncoded", 0) >= 30, 10, f"Chromium to send {codec}", frame="pub"
    )
    await browser.js("window.join()")
    first = await browser.wait_for(
        lambda s: s.get("rvfc", 0) >= 5 and s.get("framesDecoded", 0) >= 5,
        10,
        "the Chromium viewer to decode frames",
        frame="sub",
    )
    await asyncio.sleep(2)
    later = await browser.state("sub")
    await browser.screenshot(f"chromium-to-chromium-{codec}")
    assert later["codec"] == f"video/{codec}", later
    assert (later["width"], later["height"]) == (640, 360), later
    assert later["firstFrameMs"] < 1000, later
    assert later["framesDecoded"] - first["framesDecoded"] >= 30, (first, later)
    assert later["inbound"]["packetsLost"] == 0, later["inbound"]
    assert later.get("audioPackets", 0) > 0, later

    for frame in ("sub", "pub"):
        await browser.js(
            "return document.getElementById(arguments[0]).contentWindow.hangUp()", frame
        )
        done = await browser.wait_for(
            lambda s: s.get("deleteStatus") is not None, 5, "DELETE", frame=frame
        )
        assert done["deleteStatus"] == 200, done
    assert await wait_until(lambda: podium.viewers == 0 and podium.publishers == 0, within=5)
