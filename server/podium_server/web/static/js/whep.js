// WHEP (playback) and the signalling WHIP shares: one offer, non-trickle. ICE gathering
// is waited for (host candidates only: milliseconds), then the offer is POSTed whole;
// the answer's Location names the resource that DELETE ends.

import { ApiError, errorOf } from "./api.js";

const GATHERING_WAIT_MS = 3000;

function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, GATHERING_WAIT_MS); // send what we have
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** Offer on `pc`, POST it to `url` with the bearer token, apply the answer. */
export async function negotiate(url, token, pc) {
  performance.mark("podium:offer");
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  performance.mark("podium:gathered");
  const headers = { "Content-Type": "application/sdp" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers,
      body: pc.localDescription.sdp,
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "network", err && err.message ? err.message : String(err));
  }
  if (response.status !== 201 && response.status !== 200) throw await errorOf(response);
  const answer = await response.text();
  const location = new URL(response.headers.get("Location") || url, new URL(url, document.baseURI))
    .href;
  const etag = response.headers.get("ETag");
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  let stopped = false;
  return {
    location,
    etag,
    /**
     * End the resource on the server (keepalive: it survives the page closing). True once
     * the server answered (even 404: nothing left to end); false when it could not be
     * reached, so a caller may try again.
     */
    async stop() {
      if (stopped) return true;
      const del = { method: "DELETE", keepalive: true, headers: {} };
      if (token) del.headers.Authorization = `Bearer ${token}`;
      try {
        await fetch(location, del);
        stopped = true;
      } catch {
        // not reached: the caller decides whether to try again
      }
      return stopped;
    },
  };
}

/**
 * Watch: receive-only audio and video on `pc` (added here unless the caller did), then
 * negotiate. Returns {location, etag, stop()}; errors are ApiError.
 */
export async function whep(url, token, pc) {
  if (pc.getTransceivers().length === 0) {
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  return negotiate(url, token, pc);
}
