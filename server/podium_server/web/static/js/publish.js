// `/publish/{session}`: the speaker chooses camera or screen and a microphone, checks the
// preview and the level, goes live by WHIP and sees how long and to how many viewers.

import { api } from "./api.js";
import { findSession, loadEvent, sessionState } from "./event.js";
import {
  addStrings,
  applyI18n,
  formatDateTime,
  formatDuration,
  formatTime,
  mountLangSwitch,
  t,
} from "./i18n.js";
import { capture, LevelMeter, listDevices } from "./publish-media.js";
import { WhipPublisher } from "./publish-session.js";
import { PUBLISH_STRINGS } from "./publish-strings.js";
import { takeToken, tokenClaims } from "./token.js";

addStrings(PUBLISH_STRINGS);

const VIEWERS_EVERY_MS = 5000;
const token = takeToken();
const claims = tokenClaims(token);
const $ = (id) => document.getElementById(id);
const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const state = {
  event: null,
  stream: null,
  publisher: null,
  status: { state: "idle" },
  problem: null, // [key, vars]
  viewers: null,
  capturing: false,
};
const meter = new LevelMeter((level) => {
  $("level").value = level;
});

function source() {
  return document.querySelector('input[name="source"]:checked').value;
}

function setProblem(key, vars = {}) {
  state.problem = key ? [key, vars] : null;
  render();
}

function captureProblem(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return ["publish.err.denied", {}];
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return ["publish.err.not_found", {}];
  }
  if (name === "NotReadableError" || name === "AbortError") return ["publish.err.in_use", {}];
  return ["publish.err.capture", { message: (err && err.message) || String(err) }];
}

function tokenProblem() {
  if (!token) return ["token.missing", {}];
  if (claims && claims.role === "speaker" && claims.session && claims.session !== sessionId) {
    return ["publish.err.wrong_session", {}];
  }
  return null;
}

async function fillDevices() {
  let devices;
  try {
    devices = await listDevices();
  } catch {
    return;
  }
  for (const [select, list] of [
    [$("camera"), devices.cameras],
    [$("mic"), devices.mics],
  ]) {
    const chosen = select.value;
    select.replaceChildren(
      ...list.map((d, i) => {
        const option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || `${t("publish.default_device")} ${i + 1}`;
        return option;
      })
    );
    if (chosen && list.some((d) => d.deviceId === chosen)) select.value = chosen;
  }
}

async function turnOn() {
  if (!navigator.mediaDevices) {
    setProblem("publish.err.no_media");
    return;
  }
  // Pressed from the keyboard? The button is disabled (so unfocused) while capturing.
  const wasOnButton = document.activeElement === $("preview-btn");
  state.capturing = true;
  render();
  let stream;
  try {
    stream = await capture({ source: source(), cameraId: $("camera").value, micId: $("mic").value });
  } catch (err) {
    state.capturing = false;
    const [key, vars] = captureProblem(err);
    setProblem(key, vars);
    if (wasOnButton) $("preview-btn").focus();
    return;
  }
  state.capturing = false;
  const old = state.stream;
  state.stream = stream;
  $("preview").srcObject = stream;
  meter.attach(stream);
  if (state.publisher) {
    for (const track of stream.getTracks()) await state.publisher.replaceTrack(track);
  }
  if (old) old.getTracks().forEach((track) => track.stop());
  // A camera the speaker stops from the browser's own UI (screen share "Stop"): say so.
  for (const track of stream.getVideoTracks()) {
    track.addEventListener("ended", () => {
      if (state.stream === stream) render();
    });
  }
  setProblem(tokenProblem() ? tokenProblem()[0] : null);
  await fillDevices();
  render();
  // The button just pressed is now hidden: keep the keyboard user at the next step.
  if (wasOnButton && !$("golive").disabled) $("golive").focus();
}

function goLive() {
  if (!state.stream || state.publisher) return;
  setProblem(null);
  const publisher = new WhipPublisher({
    url: `/whip/${encodeURIComponent(sessionId)}`,
    token,
    stream: state.stream,
  });
  state.publisher = publisher;
  publisher.addEventListener("status", (ev) => onPublisherStatus(publisher, ev.detail));
  publisher.start();
  render();
  $("live-panel").focus(); // the step under way, announced while it connects
}

function onPublisherStatus(publisher, detail) {
  state.status = detail;
  const reason = detail.error ? detail.error.message : "";
  if (["refused", "busy", "failed", "ended"].includes(detail.state)) {
    if (state.publisher === publisher) state.publisher = null;
    if (detail.state === "refused") setProblem("publish.err.refused", { reason });
    if (detail.state === "busy") setProblem("publish.err.busy");
    if (detail.state === "failed") setProblem("publish.err.failed", { reason });
  }
  if (detail.state === "live") pollViewers();
  render();
  if (["refused", "busy", "failed"].includes(detail.state)) $("golive").focus();
}

async function endLive() {
  const publisher = state.publisher;
  if (!publisher) return;
  state.publisher = null;
  await publisher.end();
  state.viewers = null;
  render();
  $("golive").focus();
}

async function pollViewers() {
  if (!state.publisher) return;
  try {
    const figures = await api(`/api/v1/sessions/${encodeURIComponent(sessionId)}/viewers`, {
      token,
    });
    state.viewers = figures.viewers;
  } catch {
    // shown as unknown until the next answer
  }
  render();
}

function renderSession() {
  const s = state.event ? findSession(state.event, sessionId) : null;
  if (!s) return;
  const zone = state.event.timezone;
  $("event-title").textContent = state.event.title;
  document.title = `${t("publish.go_live")}: ${s.title}`;
  $("session-title").textContent = s.title;
  const when = sessionState(s);
  const badge = document.createElement("span");
  badge.className = when === "live" ? "tag ok" : when === "ended" ? "tag muted" : "tag warn";
  badge.textContent =
    when === "live"
      ? t("session.live")
      : when === "ended"
        ? t("session.ended")
        : t("session.upcoming_day", { datetime: formatDateTime(s.start, zone) });
  $("session-state").replaceChildren(badge);
  $("session-times").textContent = t("programme.times", {
    start: formatDateTime(s.start, zone),
    end: formatTime(s.end, zone),
  });
}

function renderLive() {
  const publisher = state.publisher;
  const st = state.status.state;
  const onAir = publisher && ["starting", "live", "reconnecting"].includes(st);
  $("live-panel").hidden = !onAir;
  $("live-panel").classList.toggle("reconnecting", st === "reconnecting");
  if (publisher && publisher.liveSince !== null) {
    $("elapsed").textContent = t("publish.elapsed", {
      time: formatDuration((Date.now() - publisher.liveSince) / 1000),
    });
  }
  $("viewers").textContent =
    state.viewers === null
      ? ""
      : state.viewers === 1
        ? t("publish.viewers_one")
        : t("publish.viewers", { n: state.viewers });
  $("live-badge").hidden = st === "starting";
  $("live-status").textContent =
    st === "starting"
      ? t("publish.starting")
      : st === "reconnecting"
      ? t("publish.reconnecting", { attempt: state.status.attempt || 1 })
      : st === "live"
        ? t("publish.live")
        : "";
}

function renderSetup() {
  const publisher = state.publisher;
  const blocked = !!tokenProblem();
  $("preview-empty").hidden = !!state.stream;
  $("camera-field").hidden = source() === "screen";
  $("preview-btn").textContent = t(source() === "screen" ? "publish.turn_on_screen" : "publish.turn_on");
  $("preview-btn").disabled = state.capturing;
  // Once on, changing a choice above restarts the capture; the button is only needed
  // again when the capture stopped (e.g. the browser's own "stop sharing").
  const running = state.stream && state.stream.getVideoTracks().some((t) => t.readyState === "live");
  $("preview-btn").hidden = !!running;
  $("golive").hidden = !!publisher;
  $("golive").disabled = !state.stream || blocked;
  $("end").hidden = !publisher;
  const st = state.status.state;
  $("setup-status").textContent =
    st === "starting"
      ? t("publish.starting")
      : st === "ended"
        ? t("publish.ended")
        : state.stream && !publisher
          ? t("publish.ready")
          : "";
}

function render() {
  applyI18n();
  renderSession();
  renderLive();
  renderSetup();
  const problem = state.problem || tokenProblem();
  $("problem").hidden = !problem;
  $("problem").textContent = problem ? t(problem[0], problem[1]) : "";
}

async function loadProgramme() {
  try {
    state.event = await loadEvent();
  } catch {
    setTimeout(loadProgramme, 5000);
  }
  render();
}

mountLangSwitch($("lang"));
document.addEventListener("langchange", render);
$("preview-btn").addEventListener("click", turnOn);
$("golive").addEventListener("click", goLive);
$("end").addEventListener("click", endLive);
for (const input of document.querySelectorAll('input[name="source"]')) {
  input.addEventListener("change", () => (state.stream ? turnOn() : render()));
}
for (const select of [$("camera"), $("mic")]) {
  select.addEventListener("change", () => state.stream && turnOn());
}
window.addEventListener("beforeunload", (ev) => {
  if (state.publisher) {
    ev.preventDefault();
    ev.returnValue = t("publish.leave_warning");
  }
});
window.addEventListener("pagehide", () => state.publisher && state.publisher.end());
setInterval(() => state.publisher && pollViewers(), VIEWERS_EVERY_MS);
setInterval(renderLive, 1000);
render();
loadProgramme();
fillDevices();
