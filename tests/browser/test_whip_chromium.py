"""WHIP publish from real Chromium (libwebrtc): its fake camera and microphone
(`--use-fake-device-for-media-stream`) go by WHIP to a real Podium app, from a page
on another origin; an aiortc viewer watches by WHEP and decodes the relayed frames.
VP8 and H.264 (Chromium's own encoders, packetization-mode=1)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from browser_harness import Browser, peers
from browser_pages import WHIP_PAGE

from podium_http import Podium, wait_until


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_chromium_publishes_by_whip_to_an_aiortc_viewer(
    podium: Podium, pages: Any, browser: Browser, codec: str
) -> None:
    speaker = podium.token("speaker", session="s1")
    origin = pages({"/whip.html": WHIP_PAGE})
    query = urlencode({"endpoint": f"{podium.url}/whip/s1", "token": speaker, "codec": codec})
    await browser.get(f"{origin}/whip.html?{query}")
    sending = await browser.wait_for(
        lambda s: s.get("framesEncoded", 0) >= 10, within=10, what=f"Chromium to send {codec}"
    )
    assert sending["codec"] == f"video/{codec}", sending
    assert podium.publishers == 1

    whep = podium.sdp_exchange("/whep/s1", podium.token("trainee", participant="P1"))
    viewer = await peers.watch(whep)
    try:
        assert await viewer.wait_frames(30, within=8), (
            f"the aiortc viewer decoded {len(viewer.video_frames)} frames of Chromium's {codec}"
        )
        assert viewer.sizes == {(640, 360)}, viewer.sizes
        assert viewer.audio_frames, "no Opus from Chromium reached the viewer"
        await browser.screenshot(f"whip-{codec}")
        answer = viewer.pc.remoteDescription.sdp
        video_section = answer[answer.index("m=video") :]
        assert f" {codec}/90000" in video_section, video_section
    finally:
        await viewer.close()

    await browser.js("window.hangUp()")
    done = await browser.wait_for(lambda s: s.get("deleteStatus") is not None, 5, "DELETE")
    assert done["deleteStatus"] == 200, done
    assert await wait_until(lambda: podium.publishers == 0, within=5)
    assert podium.preflights(origin) == ["/whip/s1", done["location"]], podium.requests
