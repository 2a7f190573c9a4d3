// `/dashboard` (organizer): the event at a glance, live. Counts come from the WebSocket
// (`subscribe` to every session: a snapshot, then coalesced updates); who registered
// and each session's arrivals come over HTTP. Reconnects by itself and says so.

import { ApiError, api } from "./api.js";
import { BarChart, drawArrivals } from "./dashboard-charts.js";
import { DASHBOARD_STRINGS, provinceName } from "./dashboard-strings.js";
import { loadEvent, sessionState } from "./event.js";
import { addStrings, applyI18n, formatDateTime, formatTime, lang, mountLangSwitch, t } from "./i18n.js";
import { takeToken, tokenClaims } from "./token.js";
import { PodiumSocket } from "./ws.js";

addStrings(DASHBOARD_STRINGS);

const ORG_TYPES = [
  "government",
  "university",
  "research_institute",
  "industrial_park",
  "transfer_center",
  "enterprise",
  "other",
];
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
  arrivalsTimer: null,
  arrivalsAt: 0,
};
let socket = null;
const provinceBars = new BarChart(document.getElementById("province-bars"));
const orgBars = new BarChart(document.getElementById("org-bars"));

function $(id) {
  return document.getElementById(id);
}

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

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = !text;
}

function percent(part, whole) {
  return whole > 0 ? Math.round((Math.min(part, whole) / whole) * 100) : 0;
}

function sortedSessions() {
  return [...(state.event?.sessions || [])].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

/** The live session first, else the next to start, else the last one. */
function defaultSession() {
  const sessions = sortedSessions();
  const now = Date.now();
  return (
    sessions.find((s) => sessionState(s, now) === "live") ||
    sessions.find((s) => sessionState(s, now) === "upcoming") ||
    sessions[sessions.length - 1] ||
    null
  );
}

function selectedSession() {
  return sortedSessions().find((s) => s.id === state.selected) || null;
}

// -- connection state ---------------------------------------------------------------

function showConnection(connection) {
  const box = $("conn");
  box.dataset.state = connection;
  const key = {
    live: "dash.live_state",
    connecting: "dash.reconnecting",
    offline: "dash.reconnecting",
    refused: "dash.refused",
  }[connection];
  setText($("conn-text"), t(key || "conn.connecting"));
}

// -- figures ------------------------------------------------------------------------

function figure(list, key, value, { id, note } = {}) {
  const dt = el("dt", { text: t(key) });
  const dd = el("dd", { text: String(value) });
  if (id) dd.id = id;
  const wrap = el("div", { class: "figure" }, dt, dd);
  if (note) wrap.append(el("p", { class: "muted note", text: note }));
  list.append(wrap);
}

function renderHeadline() {
  const list = $("headline-figures");
  const s = state.summary;
  if (!s) return;
  list.replaceChildren();
  const other = Math.max(0, 100 - s.government_pct - s.universities_and_research_pct);
  figure(list, "dash.trainees", s.count, { id: "fig-trainees" });
  figure(list, "dash.provinces", s.provinces, { id: "fig-provinces" });
  figure(list, "dash.gov_share", `${s.government_pct}%`);
  figure(list, "dash.uni_share", `${s.universities_and_research_pct}%`);
  figure(list, "dash.other_share", `${other}%`);
}

/** The selected session's title, state and times (not per update: they change slowly). */
function renderFocusHead() {
  const session = selectedSession();
  if (!session) return;
  const zone = state.event.timezone;
  setText($("focus-title"), session.title);
  const stateNow = sessionState(session, Date.now());
  const badge = $("focus-state");
  badge.className = stateNow === "live" ? "live-badge" : "tag muted";
  setText(badge, t(`session.${stateNow === "upcoming" ? "upcoming_day" : stateNow}`, {
    datetime: formatDateTime(session.start, zone),
  }));
  setText(
    $("focus-meta"),
    `${t("programme.times", { start: formatDateTime(session.start, zone), end: formatTime(session.end, zone) })}` +
      (session.room ? ` · ${t("programme.room", { room: session.room })}` : "")
  );
}

/** The selected session's figures. */
function renderFocus() {
  const session = selectedSession();
  if (!session) return;
  const c = state.counts.get(session.id);
  const list = $("focus-figures");
  if (!c) return;
  // Someone in the room who also watches is in both counts: the share can overstate by
  // those few, never above everyone registered.
  const present = Math.min(c.registered, c.inside + c.online);
  const values = [
    ["registered", "dash.registered", c.registered],
    ["inside", "dash.inside", c.inside],
    ["online", "dash.online", c.online],
    ["attended", "dash.attended", c.attended],
    ["present", "dash.present", `${percent(present, c.registered)}%`],
  ];
  if (list.childElementCount !== values.length) {
    list.replaceChildren();
    for (const [name, key] of values) figure(list, key, "", { id: `now-${name}` });
  }
  for (const [name, key, value] of values) {
    const dd = $(`now-${name}`);
    setText(dd.previousElementSibling, t(key));
    setText(dd, String(value));
  }
  $("present-bar").setAttribute("width", String(percent(present, c.registered)));
}

function renderBreakdowns() {
  const session = selectedSession();
  const c = session && state.counts.get(session.id);
  const s = state.summary;
  if (!c || !s) return;
  const language = lang();
  const provinces = Object.keys(s.by_province);
  for (const name of Object.keys(c.by_province)) if (!provinces.includes(name)) provinces.push(name);
  provinceBars.update(
    provinces.map((name) => ({
      key: name,
      label: provinceName(name, language) || t("province.unknown"),
      value: c.by_province[name] || 0,
      total: s.by_province[name] || 0,
    })),
    (row) => t("dash.bar_label", row)
  );
  orgBars.update(
    ORG_TYPES.filter((type) => (s.by_org_type[type] || 0) > 0 || (c.by_org_type[type] || 0) > 0).map(
      (type) => ({
        key: type,
        label: t(`org.${type}`),
        value: c.by_org_type[type] || 0,
        total: s.by_org_type[type] || 0,
      })
    ),
    (row) => t("dash.bar_label", row)
  );
}

const timeFormats = new Map(); // "lang zone" -> Intl.DateTimeFormat: one per language, not per item

/** "14:05" in the event's zone, with a formatter made once (each costs a fraction of a ms). */
function clock(epochSeconds) {
  const zone = state.event.timezone;
  const key = `${lang()} ${zone}`;
  let format = timeFormats.get(key);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat(lang() === "zh-CN" ? "zh-CN" : "en-GB", {
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
        timeZone: zone,
      });
    } catch {
      return formatTime(epochSeconds, zone);
    }
    timeFormats.set(key, format);
  }
  return format.format(epochSeconds * 1000);
}

function renderRecent() {
  const session = selectedSession();
  const c = session && state.counts.get(session.id);
  const list = $("recent");
  if (!c) return;
  const items = (c.recent || []).slice(0, 12).map((r) => {
    const direction = ["in", "out", "annulled"].includes(r.direction) ? r.direction : "in";
    return el(
      "li",
      { class: `dir-${direction}` },
      el("span", { class: "recent-time", text: clock(r.at) }),
      el("span", { class: "recent-dir", text: t(`dash.dir_${direction}`) }),
      el("span", { class: "recent-name", text: r.name || r.participant }),
      el("span", { class: "muted recent-where", text: [provinceName(r.province, lang()), r.device].filter(Boolean).join(" · ") })
    );
  });
  if (!items.length) items.push(el("li", { class: "muted", text: t("dash.recent_none") }));
  list.replaceChildren(...items);
}

function renderSessionsTable() {
  const body = $("sessions-body");
  const now = Date.now();
  const rows = sortedSessions().map((session) => {
    const c = state.counts.get(session.id);
    const live = sessionState(session, now) === "live";
    const pick = el("button", {
      type: "button",
      class: "linklike",
      text: session.title,
      "aria-label": t("dash.choose", { title: session.title }),
      "aria-pressed": String(session.id === state.selected),
    });
    pick.addEventListener("click", () => select(session.id));
    const present = c ? `${percent(Math.min(c.registered, c.inside + c.online), c.registered)}%` : "–";
    const cells = c
      ? [c.inside, c.online, present, c.attended, c.registered]
      : ["–", "–", "–", "–", "–"];
    const title = el("th", { scope: "row" }, pick);
    if (live) title.append(" ", el("span", { class: "live-badge", text: t("session.live") }));
    const labels = ["dash.inside", "dash.online", "dash.present_share", "dash.attended", "dash.registered"];
    // data-label: on a phone each session is a block, each figure under its name
    const tds = cells.map((v, i) => el("td", { class: "num", "data-label": t(labels[i]), text: String(v) }));
    tds[3].classList.add("col-attended");
    tds[4].classList.add("col-registered");
    return el(
      "tr",
      { class: session.id === state.selected ? "selected" : "", "data-session": session.id },
      title,
      ...tds
    );
  });
  body.replaceChildren(...rows);
}

function renderSelect() {
  const select = $("session-select");
  const options = sortedSessions().map((s) => {
    const option = el("option", { value: s.id, text: s.title });
    option.selected = s.id === state.selected;
    return option;
  });
  select.replaceChildren(...options);
}

function renderArrivals() {
  const box = $("arrivals-chart");
  const data = state.arrivals;
  if (!data || data.session !== state.selected) {
    box.replaceChildren();
    return;
  }
  const zone = state.event.timezone;
  const room = data.arrivals.filter((a) => a.how === "room").length;
  const online = data.arrivals.length - room;
  const summary = data.arrivals.length
    ? t("dash.arrivals_summary", { count: data.arrivals.length, room, online })
    : t("dash.arrivals_none");
  const plot = el("div", { class: "plot" });
  const legend = el(
    "p",
    { class: "legend" },
    el("span", { class: "key key-room", "aria-hidden": "true" }),
    ` ${t("dash.arrivals_room")} `,
    el("span", { class: "key key-online", "aria-hidden": "true" }),
    ` ${t("dash.arrivals_online")}`
  );
  const axis = el(
    "p",
    { class: "axis muted" },
    el("span", { text: formatTime(Math.min(data.start, data.arrivals[0]?.at ?? data.start), zone) }),
    el("span", { text: formatTime(Math.min(data.end, data.server_time), zone) })
  );
  box.replaceChildren(legend, plot, axis, el("p", { class: "arrivals-summary", text: summary }));
  const { most } = drawArrivals(plot, data, { summary });
  plot.append(el("span", { class: "axis-max muted", text: String(most) }));
}

/** Everything, e.g. after the snapshot or a language change. */
function renderAll() {
  applyI18n();
  if (!state.event) return;
  performance.mark("dashboard-render-all-start");
  document.title = `${t("dash.title")} · ${state.event.title}`;
  setText($("event-title"), state.event.title);
  renderHeadline();
  renderSelect();
  renderFocusHead();
  renderFocus();
  renderBreakdowns();
  renderRecent();
  renderSessionsTable();
  renderArrivals();
  showConnection(socket ? socket.state : "connecting");
  performance.measure("dashboard-render-all", "dashboard-render-all-start");
}

/** What an update touched; timed, so the render cost per update can be measured. */
function renderUpdate(sessionIds) {
  performance.mark("dashboard-render-start");
  if (sessionIds.includes(state.selected)) {
    renderFocus();
    renderBreakdowns();
    renderRecent();
  }
  renderSessionsTable();
  performance.measure("dashboard-render", "dashboard-render-start");
}

// -- data ---------------------------------------------------------------------------

function select(sessionId) {
  state.selected = sessionId;
  try {
    sessionStorage.setItem(SELECTED_KEY, sessionId);
  } catch {
    // not remembered across reloads
  }
  state.arrivals = null;
  renderAll();
  loadArrivals();
}

async function loadSummary() {
  state.summary = await api("/api/v1/roster/summary", { token });
}

async function loadArrivals() {
  clearTimeout(state.arrivalsTimer);
  state.arrivalsTimer = null;
  const sessionId = state.selected;
  if (!sessionId) return;
  state.arrivalsAt = Date.now();
  try {
    const data = await api(`/api/v1/sessions/${encodeURIComponent(sessionId)}/arrivals`, { token });
    if (sessionId !== state.selected) return;
    state.arrivals = data;
    renderArrivals();
  } catch {
    // kept as it was; the next update tries again
  }
}

function arrivalsSoon() {
  if (state.arrivalsTimer) return;
  const wait = Math.max(0, state.arrivalsAt + ARRIVALS_EVERY_MS - Date.now());
  state.arrivalsTimer = setTimeout(loadArrivals, wait);
}

async function subscribe() {
  try {
    const snapshot = await socket.request("subscribe", {});
    state.counts = new Map(Object.entries(snapshot.sessions || {}));
    await refreshSummaryIfStale();
    renderAll();
    loadArrivals();
  } catch (err) {
    showNotice(t("error.generic", { message: err.message || err.code }));
  }
}

/** A roster import changes `registered`: the breakdown's totals follow. */
async function refreshSummaryIfStale() {
  const any = state.counts.values().next().value;
  if (any && state.summary && any.registered !== state.summary.count) {
    try {
      await loadSummary();
      renderHeadline();
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
  renderUpdate(changed);
  if (changed.includes(state.selected)) arrivalsSoon();
  refreshSummaryIfStale().then(() => renderBreakdowns());
}

let reloading = null;

/** The programme again, then a fresh snapshot: sessions may have come and gone. */
function reloadProgramme() {
  if (reloading) return;
  reloading = loadEvent()
    .then((event) => {
      state.event = event;
      if (!event.sessions.some((s) => s.id === state.selected)) state.selected = defaultSession()?.id || null;
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
  document.addEventListener("langchange", renderAll);
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
  showConnection("connecting");
  if (!token) {
    showNotice(t("token.missing"));
    showConnection("refused");
    return false;
  }
  if (claims && claims.role !== "organizer") {
    showNotice(t("dash.needs_organizer"));
    showConnection("refused");
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
      showNotice(t("token.refused", { reason: err.message }));
      showConnection("refused");
      return;
    }
    showNotice(err instanceof ApiError && err.status === 503 ? t("dash.no_event") : t("error.network"));
    setTimeout(load, 5000);
    return;
  }
  showNotice("");
  let remembered = null;
  try {
    remembered = sessionStorage.getItem(SELECTED_KEY);
  } catch {
    // none
  }
  const known = sortedSessions().some((s) => s.id === remembered);
  state.selected = known ? remembered : defaultSession()?.id || null;
  renderAll();
  socket = new PodiumSocket({ token, device: "dashboard" });
  socket.addEventListener("state", (ev) => {
    showConnection(ev.detail);
    if (ev.detail === "refused") {
      showNotice(t("token.refused", { reason: socket.refusal?.message || "" }));
    }
  });
  socket.addEventListener("welcome", () => {
    showNotice("");
    subscribe(); // again after each reconnect: a fresh snapshot, then updates
  });
  socket.addEventListener("message", (ev) => {
    if (ev.detail.type === "update") onUpdate(ev.detail);
  });
  socket.connect();
  setInterval(() => {
    renderFocusHead();
    renderSessionsTable();
  }, CLOCK_TICK_MS);
}

if (setUp()) load();
