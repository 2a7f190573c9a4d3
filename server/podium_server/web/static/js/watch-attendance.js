// The trainee side of counting: `presence` over the WebSocket (every 30 s and whenever
// the page is hidden or shown; it never counts by itself) and the trainee's own
// attended time, read from the server.

import { api } from "./api.js";
import { PodiumSocket } from "./ws.js";

const PRESENCE_EVERY_MS = 30000;
const MINUTES_EVERY_MS = 30000;

export class TraineePresence extends EventTarget {
  constructor({ token, sessionId }) {
    super();
    this.token = token;
    this.sessionId = sessionId;
    this.socket = new PodiumSocket({ token, device: `watch-${sessionId}` });
    this._timers = [];
  }

  start() {
    this.socket.addEventListener("welcome", () => this.send());
    this.socket.addEventListener("state", (ev) =>
      this.dispatchEvent(new CustomEvent("state", { detail: ev.detail }))
    );
    this.socket.connect();
    this._timers.push(setInterval(() => this.send(), PRESENCE_EVERY_MS));
    this._timers.push(setInterval(() => this.refresh(), MINUTES_EVERY_MS));
    document.addEventListener("visibilitychange", () => {
      this.send();
      if (document.visibilityState === "visible") this.refresh();
    });
    // Best effort: the socket may already be closing when the page goes away.
    window.addEventListener("pagehide", () => this.send("left"));
    this.refresh();
  }

  send(state) {
    if (this.socket.state !== "live") return; // sent again at the next welcome
    const now = state || (document.visibilityState === "visible" ? "watching" : "hidden");
    this.socket.request("presence", { session: this.sessionId, state: now }).catch(() => {});
  }

  /** Ask the server for this trainee's attended time in the session. */
  async refresh() {
    try {
      const figures = await api(
        `/api/v1/sessions/${encodeURIComponent(this.sessionId)}/attendance/me`,
        { token: this.token }
      );
      this.dispatchEvent(new CustomEvent("attended", { detail: figures }));
    } catch (err) {
      this.dispatchEvent(new CustomEvent("attended-error", { detail: err }));
    }
  }
}
