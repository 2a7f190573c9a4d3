"""WHIP publish from real Chromium (libwebrtc): its fake camera and microphone
(`--use-fake-device-for-media-stream`) go by WHIP to a real Podium app, from a page
on another origin; an aiortc viewer watches by WHEP and decodes the relayed frames.
VP8 and H.264 (Chromium's own encoders, packetization-mode=1)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from browser_harness import Browser, Podium, eventually, peers

WHIP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>WHIP test publisher</title></head>
<body style="margin:0;background:#222;color:#eee;font:14px sans-serif">
<video id="v" autoplay muted playsinline width="320" height="240"></video>
<pre id="log"></pre>
<script>
const params = new URLSearchParams(location.search);
const state = window.podium = {
  status: "starting", error: null, location: null, deleteStatus: null,
  framesEncoded: 0, codec: null, iceState: null, log: [],
};
function log(msg) {
  state.log.push(msg);
  document.getElementById("log").textContent = state.log.join("\\n");
}
async function publish() {
  const endpoint = params.get("endpoint");
  const wanted = "video/" + params.get("codec");
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: true, video: {width: 640, height: 360, frameRate: 30},
  });
  document.getElementById("v").srcObject = stream;
  const pc = window.pc = new RTCPeerConnection();
  pc.oniceconnectionstatechange = () => {
    state.iceState = pc.iceConnectionState;
    log("ice " + pc.iceConnectionState);
  };
  pc.addTransceiver(stream.getAudioTracks()[0], {direction: "sendonly", streams: [stream]});
  const video = pc.addTransceiver(stream.getVideoTracks()[0],
                                  {direction: "sendonly", streams: [stream]});
  const codecs = RTCRtpSender.getCapabilities("video").codecs;
  const chosen = codecs.filter((c) => c.mimeType === wanted
      && (wanted !== "video/H264" || /packetization-mode=1/.test(c.sdpFmtpLine || "")));
  state.available = [...new Set(codecs.map((c) => c.mimeType))];
  if (!chosen.length) throw new Error(wanted + " not offered by this Chromium: " + state.available);
  video.setCodecPreferences(chosen.concat(codecs.filter((c) => c.mimeType === "video/rtx")));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 2000);
  });
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "Authorization": "Bearer " + params.get("token"),
      "Content-Type": "application/sdp",
    },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    throw new Error("POST " + response.status + " " + await response.text());
  }
  state.location = response.headers.get("Location");
  if (!state.location) throw new Error("Location not readable: not exposed by CORS?");
  state.resource = new URL(state.location, endpoint).href;
  await pc.setRemoteDescription({type: "answer", sdp: await response.text()});
  state.status = "answered";
  setInterval(async () => {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "video") {
        state.framesEncoded = s.framesEncoded || 0;
        state.codec = stats.get(s.codecId) ? stats.get(s.codecId).mimeType : null;
        state.encoder = s.encoderImplementation || null;
      }
    });
  }, 200);
}
window.hangUp = async () => {
  const response = await fetch(state.resource, {
    method: "DELETE",
    headers: {"Authorization": "Bearer " + params.get("token")},
  });
  state.deleteStatus = response.status;
  window.pc.close();
};
publish().catch((err) => { state.error = String(err && err.stack || err); log(state.error); });
</script></body></html>
"""


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_chromium_publishes_by_whip_to_an_aiortc_viewer(
    podium: Podium, pages: Any, browser: Browser, codec: str
) -> None:
    started = time.monotonic()
    speaker = podium.token("speaker", session="s1")
    origin = pages({"/whip.html": WHIP_PAGE})
    query = urlencode({"endpoint": f"{podium.url}/whip/s1", "token": speaker, "codec": codec})
    await browser.get(f"{origin}/whip.html?{query}")
    sending = await browser.wait_for(
        lambda s: s.get("framesEncoded", 0) >= 10, within=10, what=f"Chromium to send {codec}"
    )
    assert sending["codec"] == f"video/{codec}", sending
    assert podium.publishers == 1

    trainee = podium.token("trainee", participant="P1")

    async def whep(sdp: str) -> str:
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"{podium.url}/whep/s1",
                data=sdp,
                headers={"Authorization": f"Bearer {trainee}", "Content-Type": "application/sdp"},
            )
            assert response.status == 201, await response.text()
            return await response.text()

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
    assert await eventually(lambda: podium.publishers == 0, within=5)
    assert podium.preflights(origin) == ["/whip/s1", done["location"]], podium.requests
    assert time.monotonic() - started < 20
