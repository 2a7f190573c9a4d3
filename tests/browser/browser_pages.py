"""Test-only pages: plain JS WHIP publisher and WHEP player, run by real Chromium.

Each page reads its endpoint and token from the query string, keeps what it sees in
`window.podium` (read by the tests) and exposes `hangUp()` (DELETE the resource)."""

# WHIP and WHEP signal the same way: one offer (after ICE gathering, no trickle) POSTed
# with the bearer token, 201 + Location (readable only if CORS exposes it) + answer.
OFFER_AND_ANSWER_JS = """
async function offerAndAnswer(pc, endpoint, token, state) {
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
    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/sdp"},
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
}
"""

WHEP_PAGE = (
    """<!doctype html>
<html><head><meta charset="utf-8"><title>WHEP test player</title></head>
<body style="margin:0;background:#222;color:#eee;font:14px sans-serif">
<video id="v" autoplay muted playsinline width="640" height="360"></video>
<pre id="log"></pre>
<script>
"""
    + OFFER_AND_ANSWER_JS
    + """const params = new URLSearchParams(location.search);
const state = window.podium = {
  status: "starting", error: null, rvfc: 0, framesDecoded: 0, width: 0, height: 0,
  location: null, deleteStatus: null, iceState: null, log: [],
};
function log(msg) {
  state.log.push(msg);
  document.getElementById("log").textContent = state.log.join("\\n");
}
async function play() {
  const endpoint = params.get("endpoint");
  const pc = window.pc = new RTCPeerConnection();
  pc.addTransceiver("audio", {direction: "recvonly"});
  pc.addTransceiver("video", {direction: "recvonly"});
  const video = document.getElementById("v");
  pc.ontrack = (e) => {
    log("track " + e.track.kind);
    if (e.track.kind === "video") {
      video.srcObject = e.streams[0] || new MediaStream([e.track]);
    }
  };
  pc.oniceconnectionstatechange = () => {
    state.iceState = pc.iceConnectionState;
    log("ice " + pc.iceConnectionState);
  };
  await offerAndAnswer(pc, endpoint, params.get("token"), state);
  log("resource " + state.resource);
  const answered = performance.now();
  const onFrame = (now, meta) => {
    if (state.rvfc === 0) state.firstFrameMs = Math.round(performance.now() - answered);
    state.rvfc += 1;
    state.width = video.videoWidth;
    state.height = video.videoHeight;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  setInterval(async () => {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        state.framesDecoded = s.framesDecoded || 0;
        state.inbound = {
          ssrc: s.ssrc, packetsReceived: s.packetsReceived, packetsLost: s.packetsLost,
          framesDropped: s.framesDropped, keyFramesDecoded: s.keyFramesDecoded,
          nackCount: s.nackCount, pliCount: s.pliCount, firCount: s.firCount,
          freezeCount: s.freezeCount, decoder: s.decoderImplementation,
        };
        state.codec = stats.get(s.codecId) ? stats.get(s.codecId).mimeType : null;
      }
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        state.audioPackets = s.packetsReceived || 0;
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
  state.status = "closed";
};
play().catch((err) => { state.error = String(err && err.stack || err); log(state.error); });
</script></body></html>
"""
)

WHIP_PAGE = (
    """<!doctype html>
<html><head><meta charset="utf-8"><title>WHIP test publisher</title></head>
<body style="margin:0;background:#222;color:#eee;font:14px sans-serif">
<video id="v" autoplay muted playsinline width="320" height="240"></video>
<pre id="log"></pre>
<script>
"""
    + OFFER_AND_ANSWER_JS
    + """const params = new URLSearchParams(location.search);
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
  await offerAndAnswer(pc, endpoint, params.get("token"), state);
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
)

BOTH_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Chromium to Chromium</title></head>
<body style="margin:0;background:#222">
<iframe id="pub" width="360" height="560" allow="camera; microphone; autoplay"></iframe>
<iframe id="sub" width="660" height="560" allow="autoplay"></iframe>
<script>
// Publisher first; the viewer joins once the page is told to (a late joiner).
const query = new URLSearchParams(location.search);
document.getElementById("pub").src = "/whip.html?" + query.get("whip");
window.join = () => { document.getElementById("sub").src = "/whep.html?" + query.get("whep"); };
</script></body></html>
"""
