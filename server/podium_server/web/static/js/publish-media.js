// The speaker's camera, screen and microphone: capture, device lists, a level meter.

export const VIDEO_CONSTRAINTS = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: 30 };

/** Camera (or screen) and microphone as one stream; errors are the browser's DOMException. */
export async function capture({ source, cameraId, micId }) {
  const audio = micId ? { deviceId: { exact: micId } } : true;
  if (source === "screen") {
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    let mic;
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    } catch (err) {
      screen.getTracks().forEach((t) => t.stop());
      throw err;
    }
    return new MediaStream([...screen.getVideoTracks(), ...mic.getAudioTracks()]);
  }
  const video = cameraId ? { ...VIDEO_CONSTRAINTS, deviceId: { exact: cameraId } } : VIDEO_CONSTRAINTS;
  return navigator.mediaDevices.getUserMedia({ video, audio });
}

/** {cameras, mics}: labelled once the page has permission. */
export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: devices.filter((d) => d.kind === "videoinput"),
    mics: devices.filter((d) => d.kind === "audioinput"),
  };
}

/** Calls onLevel(0..1) about 20 times a second with the microphone's loudness. */
export class LevelMeter {
  constructor(onLevel) {
    this.onLevel = onLevel;
    this.context = null;
    this.timer = null;
    this.source = null;
  }

  attach(stream) {
    this.detach();
    const track = stream.getAudioTracks()[0];
    if (!track) return;
    this.context = this.context || new AudioContext();
    this.context.resume().catch(() => {});
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    this.source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      const rms = Math.sqrt(sum / samples.length);
      // Speech sits around -30..-10 dBFS: map -60..0 dB onto 0..1.
      const db = 20 * Math.log10(rms || 1e-6);
      this.onLevel(Math.min(1, Math.max(0, (db + 60) / 60)));
    }, 50);
  }

  detach() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.source) this.source.disconnect();
    this.source = null;
  }
}
