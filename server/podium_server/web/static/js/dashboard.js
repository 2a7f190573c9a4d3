// `/dashboard` (organizer): the event at a glance, live. Counts come from the WebSocket
// (`subscribe` to every session: a snapshot, then coalesced updates); who registered
// and each session's arrivals come over HTTP. Reconnects by itself and says so. What is
// drawn, and how, is dashboard-view.js.

import { ApiError, api } from "./api.js";
import { DASHBOARD_STRINGS } from "./dashboard-strings.js";
import { DashboardView, defaultSession, sortedSessions } from "./dashboard-view.js";
import { loadEvent } from "./event.js";
import { addStrings, applyI18n, mountLangSwitch, t } from "./i18n.js";
import { takeToken, tokenClaims } from "./token.js";
import { PodiumSocket } from "./ws.js";

addStrings(DASHBOARD_STRINGS);

const ARRIVALS_EVERY_MS = 3000; // the selected session's arrivals, refetched at most this often
const CLOCK_TICK_MS = 30000; // sessions start and end: look again this often
const BIG_TYPE_KEY = "podium.dashboard.bigType";
const SELECTED_KEY = "podium.dashboard.session";

const token = takeToken();
const claims = tokenClaims(token);
const state = {
  event: null,
  summary: null,
  counts: new Map(), // session id -> its latest figures
  selected: null,
  arrivals: null, // {session, …} for the selected session
};
let arrivalsTimer = null;
let arrivalsAt = 0;
let socket = null;
const view = new DashboardView(state, (sessionId) => select(sessionId));
const $ = (id) => document.getElementById(id);

// -- data ---------------------------------------------------------------------------

function select(sessionId) {
  state.selected = sessionId;
  try {
    sessionStorage.setItem(SELECTED_KEY, sessionId);
  } catch {
    // not remembered across reloads
  }
  state.arrivals = null;
  view.renderAll();
  loadArrivals();
}

async function loadSummary() {
  state.summary = await api("/api/v1/roster/summary", { token });
}

async function loadArrivals() {
  clearTimeout(arrivalsTimer);
  arrivalsTimer = null;
  const sessionId = state.selected;
  if (!sessionId) return;
  arrivalsAt = Date.now();
  try {
    const data = await api(`/api/v1/sessions/${encodeURIComponent(sessionId)}/arrivals`, { token });
    if (sessionId !== state.selected) return;
    state.arrivals = data;
    view.renderArrivals();
  } catch {
    // kept as it was; the next update tries again
  }
}

function arrivalsSoon() {
  if (arrivalsTimer) return;
  const wait = Math.max(0, arrivalsAt + ARRIVALS_EVERY_MS - Date.now());
  arrivalsTimer = setTimeout(loadArrivals, wait);
}

async function subscribe() {
  try {
    const snapshot = await socket.request("subscribe", {});
    state.counts = new Map(Object.entries(snapshot.sessions || {}));
    await refreshSummaryIfStale();
    view.renderAll();
    loadArrivals();
  } catch (err) {
    view.notice(t("error.generic", { message: err.message || err.code }));
  }
}

/** A roster import changes `registered`: the breakdown's totals follow. */
async function refreshSummaryIfStale() {
  const any = state.counts.values().next().value;
  if (any && state.summary && any.registered !== state.summary.count) {
    try {
      await loadSummary();
      view.renderHeadline();
    } catch {
      // the old totals stay until the next try
    }
  }
}

function onUpdate(message) {
  const changed = Object.keys(message.sessions || {});
  for (const id of changed) state.counts.set(id, message.sessions[id]);
  if (changed.some((id) => !state.event.sessions.some((s) => s.id === id))) {
    reloadProgramme(); // a programme loaded on /admin meanwhile
    return;
  }
  view.renderUpdate(changed);
  if (changed.includes(state.selected)) arrivalsSoon();
  refreshSummaryIfStale().then(() => view.renderBreakdowns());
}

let reloading = null;

/** The programme again, then a fresh snapshot: sessions may have come and gone. */
function reloadProgramme() {
  if (reloading) return;
  reloading = loadEvent()
    .then((event) => {
      state.event = event;
      if (!event.sessions.some((s) => s.id === state.selected)) state.selected = defaultSession(state)?.id || null;
      return subscribe();
    })
    .catch(() => {})
    .finally(() => {
      reloading = null;
    });
}

function setBigType(on) {
  document.documentElement.classList.toggle("big-type", on);
  $("big-type").setAttribute("aria-pressed", String(on));
  try {
    localStorage.setItem(BIG_TYPE_KEY, on ? "1" : "0");
  } catch {
    // not remembered
  }
}

function setUp() {
  mountLangSwitch($("lang"));
  document.addEventListener("langchange", () => view.renderAll());
  let big = false;
  try {
    big = localStorage.getItem(BIG_TYPE_KEY) === "1";
  } catch {
    // default size
  }
  setBigType(big || new URLSearchParams(location.search).has("projector"));
  $("big-type").addEventListener("click", () =>
    setBigType(!document.documentElement.classList.contains("big-type"))
  );
  $("session-select").addEventListener("change", (ev) => select(ev.target.value));
  applyI18n();
  view.showConnection("connecting");
  if (!token) {
    view.notice(t("token.missing"));
    view.showConnection("refused");
    return false;
  }
  if (claims && claims.role !== "organizer") {
    view.notice(t("dash.needs_organizer"));
    view.showConnection("refused");
    return false;
  }
  return true;
}

/** The programme and the roster's figures (tried again until the server answers), then live. */
async function load() {
  try {
    state.event = await loadEvent();
    await loadSummary();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      view.notice(t("token.refused", { reason: err.message }));
      view.showConnection("refused");
      return;
    }
    view.notice(err instanceof ApiError && err.status === 503 ? t("dash.no_event") : t("error.network"));
    setTimeout(load, 5000);
    return;
  }
  view.notice("");
  let remembered = null;
  try {
    remembered = sessionStorage.getItem(SELECTED_KEY);
  } catch {
    // none
  }
  const known = sortedSessions(state).some((s) => s.id === remembered);
  state.selected = known ? remembered : defaultSession(state)?.id || null;
  view.renderAll();
  socket = new PodiumSocket({ token, device: "dashboard" });
  socket.addEventListener("state", (ev) => {
    view.showConnection(ev.detail);
    if (ev.detail === "refused") {
      view.notice(t("token.refused", { reason: socket.refusal?.message || "" }));
    }
  });
  socket.addEventListener("welcome", () => {
    view.notice("");
    subscribe(); // again after each reconnect: a fresh snapshot, then updates
  });
  socket.addEventListener("message", (ev) => {
    if (ev.detail.type === "update") onUpdate(ev.detail);
  });
  socket.connect();
  setInterval(() => {
    view.renderFocusHead();
    view.renderSessionsTable();
  }, CLOCK_TICK_MS);
}

if (setUp()) load();
