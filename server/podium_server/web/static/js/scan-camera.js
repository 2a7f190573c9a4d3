// The camera as a badge reader: the rear camera where there is one, frames decoded in the
// browser -- by `BarcodeDetector` where the browser has it, else by the pinned zxing-wasm
// served from our own vendor/ folder (never a CDN: the venue may have no internet).
// A badge held in front of the camera is read many times a second: reads of the same
// code within REPEAT_MS of the previous read are one scan.

const VENDOR = "/static/vendor/zxing-wasm-3.1.8/dist";
const REPEAT_MS = 4000;
const FRAME_EVERY_MS = 100; // ~10 decodes a second at most: the phone stays cool
const MAX_SIDE = 720; // frames are scaled down to this before decoding
const TIMINGS_KEPT = 200;

let decoderPromise = null;

async function zxingDecoder() {
  const zxing = await import(`${VENDOR}/es/reader/index.js`);
  await zxing.prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) =>
        path.endsWith(".wasm") ? `${VENDOR}/reader/zxing_reader.wasm` : prefix + path,
    },
    fireImmediately: true,
  });
  const options = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 };
  return {
    name: "zxing-wasm 3.1.8",
    async decode(canvas, context) {
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = await zxing.readBarcodes(image, options);
      return found.filter((r) => r.isValid).map((r) => r.text);
    },
  };
}

async function nativeDecoder() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return {
      name: "BarcodeDetector",
      async decode(canvas) {
        return (await detector.detect(canvas)).map((b) => b.rawValue);
      },
    };
  } catch {
    return null;
  }
}

/** The QR decoder this browser uses (made once): {name, decode(canvas, context)}. */
export function qrDecoder() {
  if (!decoderPromise) {
    decoderPromise = nativeDecoder().then((native) => native || zxingDecoder());
    decoderPromise.catch(() => {
      decoderPromise = null; // try again on the next start
    });
  }
  return decoderPromise;
}

export class Camera {
  /** onCode(text): a badge read (repeats within REPEAT_MS dropped). */
  constructor(video, { onCode }) {
    this.video = video;
    this.onCode = onCode;
    this.stream = null;
    this.track = null;
    this.decoder = null;
    this.hasTorch = false;
    this.torch = false;
    this.timings = []; // ms per decoded frame, the last TIMINGS_KEPT
    this._timer = null;
    this._last = { text: null, at: 0 };
    this._canvas = document.createElement("canvas");
    this._context = this._canvas.getContext("2d", { willReadFrequently: true });
  }

  get running() {
    return this.stream !== null;
  }

  async start() {
    if (this.stream) return;
    const decoderReady = qrDecoder();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    this.track = this.stream.getVideoTracks()[0];
    const caps = this.track.getCapabilities ? this.track.getCapabilities() : {};
    this.hasTorch = Boolean(caps.torch);
    this.video.srcObject = this.stream;
    await this.video.play();
    this.decoder = await decoderReady;
    this._schedule();
  }

  stop() {
    clearTimeout(this._timer);
    this._timer = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.track = null;
    this.torch = false;
    this.video.srcObject = null;
  }

  async setTorch(on) {
    if (!this.track || !this.hasTorch) return false;
    await this.track.applyConstraints({ advanced: [{ torch: on }] });
    this.torch = on;
    return true;
  }

  /** Median and 95th percentile of the decode time per frame, in ms. */
  decodeStats() {
    const sorted = [...this.timings].sort((a, b) => a - b);
    const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return sorted.length ? { n: sorted.length, p50: pick(0.5), p95: pick(0.95) } : null;
  }

  _schedule() {
    this._timer = setTimeout(() => this._frame(), FRAME_EVERY_MS);
  }

  async _frame() {
    if (!this.stream) return;
    const { videoWidth: w, videoHeight: h } = this.video;
    if (w && h) {
      const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      this._canvas.width = Math.round(w * scale);
      this._canvas.height = Math.round(h * scale);
      this._context.drawImage(this.video, 0, 0, this._canvas.width, this._canvas.height);
      const started = performance.now();
      let texts = [];
      try {
        texts = await this.decoder.decode(this._canvas, this._context);
      } catch {
        texts = []; // a bad frame: the next one
      }
      this.timings.push(performance.now() - started);
      if (this.timings.length > TIMINGS_KEPT) this.timings.shift();
      for (const text of texts) this._read(text);
    }
    if (this.stream) this._schedule();
  }

  _read(text) {
    const now = performance.now();
    const repeat = text === this._last.text && now - this._last.at < REPEAT_MS;
    this._last = { text, at: now }; // a badge held up stays one scan however long
    if (!repeat) this.onCode(text);
  }
}
