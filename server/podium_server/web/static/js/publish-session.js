// A WHIP publisher that stays live: when the network drops it ends its old resource and
// publishes again with the same tracks, with backoff, until told to stop. Viewers stay
// connected to the relay meanwhile and carry on when pictures come back.
//
// status detail: {state, attempt?, delayMs?, error?}; state is one of
//   "starting" | "live" | "reconnecting" | "refused" (401/403: stopped) |
//   "busy" (409 at the start: someone else is publishing this session; stopped) |
//   "failed" (the first attempt failed otherwise; stopped) | "ended".

import { ApiError } from "./api.js";
import { whip } from "./whip.js";

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 8000;
const DISCONNECTED_GRACE_MS = 3000;

export class WhipPublisher extends EventTarget {
  constructor({ url, token, stream }) {
    super();
    this.url = url;
    this.token = token;
    this.stream = stream;
    this.state = "idle";
    this.liveSince = null; // first time live: the elapsed time survives a republish
    this._pc = null;
    this._resource = null;
    this._attempt = 0;
    this._timer = null;
    this._grace = null;
    this._stopped = true;
    this._generation = 0;
  }

  start() {
    this._stopped = false;
    this._connect();
  }

  async end() {
    this._stopped = true;
    clearTimeout(this._timer);
    const resource = this._resource;
    this._teardown();
    if (resource) await resource.stop();
    this._set("ended");
  }

  /** Swap the picture or the sound while live (camera <-> screen, another microphone). */
  async replaceTrack(track) {
    this.stream = new MediaStream([
      ...this.stream.getTracks().filter((t) => t.kind !== track.kind),
      track,
    ]);
    if (!this._pc) return;
    const sender = this._pc.getSenders().find((s) => s.track && s.track.kind === track.kind);
    if (sender) await sender.replaceTrack(track);
  }

  _set(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...extra } }));
  }

  _teardown() {
    this._generation += 1;
    clearTimeout(this._grace);
    if (this._pc) this._pc.close();
    this._pc = null;
    this._resource = null;
  }

  async _connect() {
    const generation = ++this._generation;
    const old = this._resource;
    if (old) {
      // Our own previous resource first: while the server holds it, a new one is a 409.
      const ended = await old.stop();
      if (generation !== this._generation || this._stopped) return;
      if (!ended) {
        this._retry(new ApiError(0, "network", "the server cannot be reached"));
        return;
      }
      this._resource = null;
    }
    this._set(this.liveSince === null ? "starting" : "reconnecting", { attempt: this._attempt });
    const pc = new RTCPeerConnection({ iceServers: [] });
    this._pc = pc;
    for (const track of this.stream.getTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [this.stream] });
    }
    pc.addEventListener("connectionstatechange", () => this._onConnection(pc, generation));
    try {
      const resource = await whip(this.url, this.token, pc);
      if (generation !== this._generation) {
        resource.stop();
        return;
      }
      this._resource = resource;
    } catch (err) {
      if (generation === this._generation) this._failed(err);
    }
  }

  _onConnection(pc, generation) {
    if (generation !== this._generation) return;
    clearTimeout(this._grace);
    const state = pc.connectionState;
    if (state === "connected") {
      this._attempt = 0;
      if (this.liveSince === null) this.liveSince = Date.now();
      this._set("live");
    } else if (state === "failed" || state === "closed") {
      this._retry();
    } else if (state === "disconnected") {
      this._set("reconnecting", { attempt: this._attempt });
      this._grace = setTimeout(() => {
        if (generation === this._generation && pc.connectionState !== "connected") this._retry();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  _failed(err) {
    const status = err instanceof ApiError ? err.status : 0;
    const everLive = this.liveSince !== null;
    if (status === 401 || status === 403) return this._giveUp("refused", err);
    // 409 at the start: another device is live on this session. After a drop it is our
    // own old resource the server has not let go of yet: wait and try again.
    if (status === 409 && !everLive) return this._giveUp("busy", err);
    if (!everLive && status >= 400 && status < 500 && status !== 409 && status !== 429) {
      return this._giveUp("failed", err);
    }
    this._retry(err);
  }

  _giveUp(state, error) {
    this._stopped = true;
    const resource = this._resource;
    this._teardown();
    if (resource) resource.stop();
    this._set(state, { error });
  }

  _retry(error) {
    if (this._stopped) return;
    clearTimeout(this._grace);
    if (this._pc) this._pc.close();
    this._pc = null;
    this._attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this._attempt - 1));
    const delayMs = base / 2 + Math.random() * (base / 2);
    this._set("reconnecting", { attempt: this._attempt, delayMs, error });
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      if (!this._stopped) this._connect();
    }, delayMs);
  }
}
