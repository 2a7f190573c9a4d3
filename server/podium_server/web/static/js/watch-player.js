// A WHEP player that keeps itself going: it reconnects with backoff when the server
// restarts or the network drops, notices when pictures stop coming (the speaker gone)
// and says what it is doing through `status` events.
//
// status detail: {state, attempt?, delayMs?, error?}; state is one of
//   "connecting" | "waiting" (connected, no picture yet: nobody publishing) |
//   "playing" | "stalled" (pictures stopped coming: the speaker gone, or the network) |
//   "retrying" (waiting delayMs before attempt) | "refused" (token refused: stopped) |
//   "unavailable" (no such streamed session: retried slowly).

import { ApiError } from "./api.js";
import { whep } from "./whep.js";

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;
const STALL_AFTER_MS = 2500; // no new video packet for this long: say so
const REJOIN_AFTER_QUIET_MS = 30000; // still nothing: our viewer may be gone, join again
const ICE_WAIT_MS = 10000; // no connection by then: try again
const DISCONNECTED_GRACE_MS = 3000; // ICE often recovers from "disconnected" by itself

export class WhepPlayer extends EventTarget {
  constructor({ url, token, video }) {
    super();
    this.url = url;
    this.token = token;
    this.video = video;
    this.state = "idle";
    this._pc = null;
    this._resource = null;
    this._attempt = 0;
    this._timer = null;
    this._watchdog = null;
    this._graceTimer = null;
    this._stopped = true;
    this._generation = 0;
    this._frames = 0;
    this._lastProgress = 0;
    this._startedAt = 0;
  }

  start() {
    this._stopped = false;
    this._connect();
  }

  /** Switch to another session's stream (the kiosk following its room). */
  switchTo(url) {
    this.url = url;
    this._teardown();
    this._attempt = 0;
    if (!this._stopped) this._connect();
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
    this._teardown();
    this._set("idle");
  }

  _set(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...extra } }));
  }

  _teardown() {
    this._generation += 1;
    clearInterval(this._watchdog);
    clearTimeout(this._graceTimer);
    this._watchdog = null;
    if (this._resource) this._resource.stop();
    this._resource = null;
    if (this._pc) this._pc.close();
    this._pc = null;
  }

  async _connect() {
    this._teardown();
    const generation = this._generation;
    this._set("connecting", { attempt: this._attempt });
    const pc = new RTCPeerConnection({ iceServers: [] });
    this._pc = pc;
    const stream = new MediaStream();
    pc.addEventListener("track", (ev) => {
      stream.addTrack(ev.track);
      if (this.video.srcObject !== stream) this.video.srcObject = stream;
      this.dispatchEvent(new CustomEvent("track", { detail: ev.track }));
    });
    pc.addEventListener("connectionstatechange", () => this._onConnection(pc, generation));
    try {
      const resource = await whep(this.url, this.token, pc);
      if (generation !== this._generation) {
        resource.stop();
        return;
      }
      this._resource = resource;
    } catch (err) {
      if (generation !== this._generation) return;
      this._failed(err);
      return;
    }
    this._startedAt = performance.now();
    this._lastProgress = performance.now();
    this._frames = 0;
    this._watchdog = setInterval(() => this._watch(generation), 500);
  }

  /** Video packets received so far (from the peer connection: counts in a hidden tab too). */
  async _received(pc) {
    let packets = 0;
    try {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") packets += r.packetsReceived || 0;
      });
    } catch {
      // closed meanwhile
    }
    return packets;
  }

  async _watch(generation) {
    const pc = this._pc;
    if (generation !== this._generation || !pc) return;
    const packets = await this._received(pc);
    if (generation !== this._generation) return;
    const now = performance.now();
    if (packets > this._frames) {
      this._frames = packets;
      this._lastProgress = now;
      if (this.state !== "playing") {
        this._attempt = 0;
        this._set("playing");
      }
      return;
    }
    const quiet = now - this._lastProgress;
    const connected = pc.connectionState === "connected";
    if (this.state === "playing" && quiet > STALL_AFTER_MS) this._set("stalled");
    else if (this.state === "connecting" && connected) this._set("waiting");
    const iceStuck = !connected && now - this._startedAt > ICE_WAIT_MS;
    if ((iceStuck && this.state === "connecting") || quiet > REJOIN_AFTER_QUIET_MS) this._retry();
  }

  _onConnection(pc, generation) {
    if (generation !== this._generation) return;
    const state = pc.connectionState;
    clearTimeout(this._graceTimer);
    if (state === "failed" || state === "closed") this._retry();
    else if (state === "disconnected") {
      if (this.state === "playing") this._set("stalled");
      this._graceTimer = setTimeout(() => {
        if (generation === this._generation && pc.connectionState !== "connected") this._retry();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  _failed(err) {
    const status = err instanceof ApiError ? err.status : 0;
    if (status === 401 || status === 403) {
      this._teardown();
      this._stopped = true;
      this._set("refused", { error: err });
      return;
    }
    if (status === 404) {
      this._teardown();
      this._schedule(BACKOFF_MAX_MS, err, "unavailable");
      return;
    }
    this._retry(err);
  }

  _retry(error) {
    if (this._stopped) return;
    this._teardown();
    this._attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this._attempt - 1));
    this._schedule(base / 2 + Math.random() * (base / 2), error);
  }

  _schedule(delayMs, error, state = "retrying") {
    clearTimeout(this._timer);
    this._set(state, { attempt: this._attempt, delayMs, error });
    this._timer = setTimeout(() => {
      if (!this._stopped) this._connect();
    }, delayMs);
  }
}
