// `/watch/{session}`: the trainee's player (WHEP), the session and the rest of the
// programme, what is counted and the trainee's own minutes. `?kiosk`: the room's
// projector: the picture only, cards between talks, following the room's programme.

import { dayOf, findSession, loadEvent, sessionState } from "./event.js";
import {
  addStrings,
  applyI18n,
  formatDateTime,
  formatTime,
  mountLangSwitch,
  t,
} from "./i18n.js";
import { takeToken, tokenClaims } from "./token.js";
import { TraineePresence } from "./watch-attendance.js";
import { WhepPlayer } from "./watch-player.js";
import { WATCH_STRINGS } from "./watch-strings.js";

addStrings(WATCH_STRINGS);

const RENDER_EVERY_MS = 15000;
const kiosk = new URLSearchParams(location.search).has("kiosk");
const token = takeToken();
const claims = tokenClaims(token);
const $ = (id) => document.getElementById(id);
const video = $("video");
const page = {
  sessionId: decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || ""),
  event: null,
  player: null,
  playerStatus: { state: "idle" },
  attended: null,
  attendedError: null,
  muted: false,
  connection: "",
  playbackStarted: false,
  firstAttemptDone: false, // until then "connecting"; afterwards a gap is "back soon"
};

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function session() {
  return page.event ? findSession(page.event, page.sessionId) : null;
}

function startsText(s) {
  const zone = page.event.timezone;
  const today = dayOf(s.start, zone) === dayOf(new Date(), zone);
  return today
    ? t("session.upcoming", { time: formatTime(s.start, zone) })
    : t("session.upcoming_day", { datetime: formatDateTime(s.start, zone) });
}

function stateBadge(s) {
  const state = sessionState(s);
  if (state === "live") return el("span", { class: "live-badge", text: t("session.live") });
  if (state === "ended") return el("span", { class: "tag muted", text: t("session.ended") });
  return el("span", { class: "tag warn", text: startsText(s) });
}

/** The next session in the same room after `s`, if any. */
function nextInRoom(s) {
  const later = page.event.sessions
    .filter((o) => o.room === s.room && o.id !== s.id && Date.parse(o.start) >= Date.parse(s.end))
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  return later[0] || null;
}

function minutesText(seconds) {
  if (seconds > 0 && seconds < 60) return t("watch.under_minute");
  return t("watch.minutes", { n: Math.floor(seconds / 60) });
}

function renderSession(s) {
  const zone = page.event.timezone;
  $("event-title").textContent = page.event.title;
  document.title = `${s.title} · ${page.event.title}`;
  $("session-title").textContent = s.title;
  $("session-state").replaceChildren(stateBadge(s));
  $("session-times").textContent = t("programme.times", {
    start: formatDateTime(s.start, zone),
    end: formatTime(s.end, zone),
  });
  $("session-room").textContent = `${t("programme.room", { room: s.room })} · ${t(`mode.${s.mode}`)}`;
  $("session-speakers").replaceChildren(...s.speakers.map((name) => el("li", { text: name })));
}

function renderOverlay(s) {
  const overlay = $("overlay");
  const playing = page.playerStatus.state === "playing";
  let kicker = "";
  let title = s ? s.title : "";
  let detail = "";
  if (!token) kicker = t("watch.o.no_token");
  else if (!s) kicker = page.event ? t("watch.no_session", { id: page.sessionId }) : t("loading");
  else if (sessionState(s) === "upcoming") kicker = startsText(s);
  else if (sessionState(s) === "ended") {
    kicker = t("watch.o.ended");
    const next = nextInRoom(s);
    if (next) {
      const zone = page.event.timezone;
      detail = t("watch.o.next", { title: next.title, time: formatTime(next.start, zone) });
    }
  } else if (!page.firstAttemptDone) {
    kicker = t("watch.o.connecting");
  } else kicker = t("watch.o.back_soon");
  if (s && sessionState(s) === "upcoming" && s.speakers.length) {
    detail = t("watch.speakers", { names: s.speakers.join("; ") });
  }
  // A live picture wins over the card (a speaker testing before the start shows too).
  overlay.hidden = playing && token && s && sessionState(s) !== "ended";
  $("overlay-kicker").textContent = kicker;
  $("overlay-title").textContent = title;
  $("overlay-detail").textContent = detail;
}

function renderPlayerStatus() {
  const { state, delayMs, attempt, error } = page.playerStatus;
  const seconds = Math.max(1, Math.round((delayMs || 0) / 1000));
  const reason = error ? error.message : "";
  const text = {
    connecting: t("watch.p.connecting"),
    waiting: t("watch.p.waiting"),
    playing: t("watch.p.playing"),
    stalled: t("watch.p.stalled"),
    retrying: t("watch.p.retrying", { seconds, attempt }),
    refused: t("watch.p.refused", { reason }),
    unavailable: t("watch.p.unavailable", { reason, seconds }),
  }[state];
  const line = $("player-status");
  if (!token) {
    line.textContent = t("token.missing");
    line.className = "player-status bad";
    return;
  }
  line.textContent = [text, page.muted ? t("watch.muted") : ""].filter(Boolean).join(" ");
  line.className = `player-status ${state === "playing" ? "" : state === "refused" ? "bad" : "warn"}`;
  $("unmute").hidden = !page.muted || kiosk;
  $("kiosk-sound").hidden = !page.muted || !kiosk;
}

function renderAttendance() {
  const box = $("attendance");
  if (!claims || claims.role !== "trainee") {
    $("attended").textContent = "";
    $("attended-detail").textContent = claims
      ? t("watch.not_counted_role", { role: t(`role.${claims.role}`) })
      : "";
    return;
  }
  box.hidden = false;
  if (page.attendedError && !page.attended) {
    $("attended").textContent = "–";
    $("attended-detail").textContent = t("watch.attended_error", {
      message: page.attendedError.message,
    });
    return;
  }
  const a = page.attended;
  if (!a) return;
  $("attended").textContent = minutesText(a.total_s);
  const detail = t("watch.attended_detail", {
    online: minutesText(a.online_s),
    room: minutesText(a.room_s),
    needed: minutesText(a.needed_s),
    duration: minutesText(a.duration_s),
  });
  const done = a.status === "attended" ? ` ${t("watch.status.attended")}` : "";
  $("attended-detail").textContent = detail + done;
}

function renderRest(current) {
  const zone = page.event.timezone;
  const others = [...page.event.sessions]
    .filter((s) => !current || s.id !== current.id)
    .filter((s) => sessionState(s) !== "ended")
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const items = others.map((s) => {
    const times = t("programme.times", {
      start: formatDateTime(s.start, zone),
      end: formatTime(s.end, zone),
    });
    const title = s.stream
      ? el("a", { href: `/watch/${encodeURIComponent(s.id)}`, text: s.title })
      : el("span", { text: s.title });
    const live = sessionState(s) === "live";
    return el(
      "li",
      {},
      el("div", {}, el("span", { class: "session-time", text: times }), " ", live ? stateBadge(s) : ""),
      el("h3", {}, title)
    );
  });
  if (!items.length) items.push(el("li", { class: "muted", text: t("programme.none_next") }));
  $("rest").replaceChildren(...items);
}

function render() {
  applyI18n();
  $("conn").textContent = page.connection ? t(`conn.${page.connection}`) : "";
  renderPlayerStatus();
  renderAttendance();
  if (!page.event) {
    renderOverlay(null);
    return;
  }
  const s = session();
  if (!s) {
    $("session-title").textContent = t("watch.no_session", { id: page.sessionId });
  } else {
    renderSession(s);
  }
  renderOverlay(s);
  renderRest(s);
}

async function startPlayback() {
  // Once per page, when the sound is really arriving (a browser decides on autoplay by
  // what it hears: before that it lets anything play). The picture has been playing
  // muted since its first frame; now the sound, if the browser allows it, else a clear
  // button. The element and stream stay the same across reconnections.
  if (page.playbackStarted) return;
  page.playbackStarted = true;
  video.muted = false;
  try {
    await video.play();
    page.muted = false;
  } catch (err) {
    video.muted = true;
    page.muted = true;
    await video.play().catch(() => {});
  }
  render();
}

function onTrack(track) {
  if (track.kind !== "audio") return;
  if (track.muted) track.addEventListener("unmute", startPlayback, { once: true });
  else startPlayback();
}

function unmute() {
  video.muted = false;
  page.muted = false;
  video.play().catch(() => {});
  render();
}

function markFirstFrame() {
  // For the first-frame measurement (docs): navigation start -> first picture shown.
  const mark = () => performance.mark("podium:first-frame");
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(mark);
  else video.addEventListener("playing", mark, { once: true });
}

/** The kiosk follows its room: once this talk is over, the next streamed one in the room. */
function followRoom() {
  const s = session();
  if (!s || sessionState(s) !== "ended") return;
  const next = nextInRoom(s);
  if (!next || !next.stream) return;
  page.sessionId = next.id;
  history.replaceState(null, "", `/watch/${encodeURIComponent(next.id)}?kiosk`);
  page.player.switchTo(`/whep/${encodeURIComponent(next.id)}`);
}

function startPlayer() {
  const player = new WhepPlayer({
    url: `/whep/${encodeURIComponent(page.sessionId)}`,
    token,
    video,
  });
  page.player = player;
  player.addEventListener("status", (ev) => {
    page.playerStatus = ev.detail;
    if (ev.detail.state !== "connecting") page.firstAttemptDone = true;
    if (ev.detail.state === "playing" && video.paused) {
      video.play().catch(() => {}); // paused by the browser meanwhile: carry on as before
    }
    render();
  });
  player.addEventListener("track", (ev) => onTrack(ev.detail));
  player.start();
}

function startKiosk() {
  document.body.classList.add("kiosk");
  document.addEventListener("click", () => {
    unmute();
    if (!document.fullscreenElement) document.documentElement.requestFullscreen?.().catch(() => {});
  });
}

async function loadProgramme() {
  try {
    page.event = await loadEvent();
  } catch {
    setTimeout(loadProgramme, 5000);
  }
  render();
}

mountLangSwitch($("lang"));
document.addEventListener("langchange", render);
$("unmute").addEventListener("click", unmute);
if (kiosk) startKiosk();
else video.controls = true; // the browser's own: volume, pause, full screen, by keyboard too
markFirstFrame();
render();
loadProgramme();
if (token) {
  startPlayer();
  if (!kiosk && claims && claims.role === "trainee") {
    const presence = new TraineePresence({ token, sessionId: page.sessionId });
    presence.addEventListener("state", (ev) => {
      page.connection = ev.detail;
      render();
    });
    presence.addEventListener("attended", (ev) => {
      page.attended = ev.detail;
      page.attendedError = null;
      render();
    });
    presence.addEventListener("attended-error", (ev) => {
      page.attendedError = ev.detail;
      render();
    });
    presence.start();
  }
}
setInterval(() => {
  if (kiosk && page.event) followRoom();
  render();
}, RENDER_EVERY_MS);
