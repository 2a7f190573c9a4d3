// The WebSocket client: hello, requests matched to replies by `re`, reconnection with
// backoff. A request the socket lost is sent again with the same id after the next
// welcome: the server answers a repeated id the same way and records it once.

const REFUSED_CODES = new Set([4401, 4403]);
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;
const PING_EVERY_MS = 20000; // a dead network is noticed within PING_EVERY_MS + PING_WAIT_MS
const PING_WAIT_MS = 10000;

/** A unique request id (crypto.randomUUID needs a secure context; this fallback does not). */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

export class PodiumSocket extends EventTarget {
  constructor({ token, device, url } = {}) {
    super();
    this.token = token;
    this.device = device || "browser";
    this.url = url || socketUrl();
    this.state = "offline";
    this.welcome = null;
    this.refusal = null; // {code, message} of the error that closed the socket for good
    this._ws = null;
    this._helloId = null;
    this._pending = new Map(); // id -> {frame, resolve, reject, sent}
    this._attempt = 0;
    this._retryTimer = null;
    this._pingTimer = null;
    this._stopped = true;
  }

  connect() {
    this._stopped = false;
    if (!this._ws && !this._retryTimer) this._open();
    return this;
  }

  close() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._stopPing();
    if (this._ws) this._ws.close(1000, "page closed");
    this._ws = null;
    this._setState("offline");
  }

  /** Send a request; resolves with its reply, rejects with {code, message} on an error reply. */
  request(type, fields = {}, { id } = {}) {
    const rid = id || newId();
    const frame = { ...fields, type, id: rid };
    if (this.state === "refused") return Promise.reject(this.refusal);
    return new Promise((resolve, reject) => {
      this._pending.set(rid, { frame, resolve, reject });
      if (this.state === "live") this._send(frame);
    });
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  _send(frame) {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) {
      this._ws.send(JSON.stringify(frame));
    }
  }

  _open() {
    this._retryTimer = null;
    this._setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this._scheduleRetry();
      return;
    }
    this._ws = ws;
    this._helloId = newId();
    ws.addEventListener("open", () => {
      ws.send(
        JSON.stringify({ type: "hello", id: this._helloId, token: this.token, device: this.device })
      );
    });
    ws.addEventListener("message", (ev) => this._onFrame(ev.data));
    ws.addEventListener("close", (ev) => this._onClose(ws, ev));
  }

  _onFrame(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // not ours to understand
    }
    if (msg.type === "welcome" && msg.re === this._helloId) {
      this._attempt = 0;
      this.welcome = msg;
      this._setState("live");
      this.dispatchEvent(new CustomEvent("welcome", { detail: msg }));
      for (const entry of this._pending.values()) this._send(entry.frame);
      this._startPing();
      return;
    }
    if (msg.type === "error" && (msg.re === this._helloId || msg.re == null)) {
      this.refusal = { code: msg.code, message: msg.message }; // the close code follows
    }
    const entry = msg.re != null ? this._pending.get(msg.re) : undefined;
    if (!entry) {
      if (msg.re == null) this.dispatchEvent(new CustomEvent("message", { detail: msg }));
      return;
    }
    if (msg.type === "error" && msg.code === "unavailable") {
      // Nothing was recorded: keep it and send it again once the store is back.
      setTimeout(() => {
        if (this._pending.get(msg.re) === entry && this.state === "live") this._send(entry.frame);
      }, this._delay(1));
      return;
    }
    this._pending.delete(msg.re);
    if (msg.type === "error") entry.reject({ code: msg.code, message: msg.message });
    else entry.resolve(msg);
  }

  _onClose(ws, ev) {
    if (this._ws !== ws) return;
    this._ws = null;
    this._stopPing();
    if (REFUSED_CODES.has(ev.code)) {
      this._stopped = true;
      if (!this.refusal) this.refusal = { code: "forbidden", message: ev.reason || "refused" };
      for (const entry of this._pending.values()) entry.reject(this.refusal);
      this._pending.clear();
      this._setState("refused");
      return;
    }
    if (this._stopped) return;
    this._setState("offline");
    this._scheduleRetry();
  }

  _delay(attempt) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, attempt - 1));
    return base / 2 + Math.random() * (base / 2); // jitter: a restarted server is not stampeded
  }

  _scheduleRetry() {
    if (this._stopped) return;
    this._attempt += 1;
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._open(), this._delay(this._attempt));
  }

  _startPing() {
    this._stopPing();
    this._pingTimer = setInterval(() => {
      const ws = this._ws;
      if (!ws) return;
      const id = newId();
      const answered = this.request("ping", {}, { id });
      const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), PING_WAIT_MS));
      Promise.race([answered, timeout]).then(
        (result) => {
          if (result !== "timeout") return;
          this._pending.delete(id);
          // No answer: the network is gone without a close (whose handshake would
          // wait just as long); drop this socket and start again.
          if (this._ws !== ws) return;
          this._ws = null;
          this._stopPing();
          ws.close(4000, "no answer");
          this._setState("offline");
          this._scheduleRetry();
        },
        () => {}
      );
    }, PING_EVERY_MS);
  }

  _stopPing() {
    clearInterval(this._pingTimer);
    this._pingTimer = null;
  }
}
