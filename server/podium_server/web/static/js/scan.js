// The door scanner page (/scan): a staff token, a session and a direction; badges from a
// USB scanner (keyboard wedge), the camera, or a manual search; a big coloured answer.
// Every scan goes to the IndexedDB outbox first and is sent from there (scan-sender.js),
// so nothing is lost offline and nothing is recorded twice.

import { addStrings, applyI18n, formatTime, mountLangSwitch, t } from "./i18n.js";
import { loadEvent } from "./event.js";
import { takeToken, tokenClaims } from "./token.js";
import { PodiumSocket, newId } from "./ws.js";
import { Camera } from "./scan-camera.js";
import { checkBadge, loadBadgeKey } from "./scan-badge.js";
import { describe, showCard, signal, unlockAudio } from "./scan-feedback.js";
import { Outbox } from "./scan-queue.js";
import { RecentScans } from "./scan-recent.js";
import { SearchBox } from "./scan-search.js";
import { Sender } from "./scan-sender.js";
import { fillSessions } from "./scan-sessions.js";
import { SCAN_STRINGS } from "./scan-strings.js";

addStrings(SCAN_STRINGS);

const UNDO_WINDOW_S = 15 * 60; // the server's annul window
const CHECKING_AFTER_MS = 150; // no answer by then: "checking…" replaces the last card
const SLOW_ANSWER_MS = 1500; // no answer by then: shown as kept, answered later
// Answers of scans that went into the ledger (and so can be annulled).
const RECORDED = new Set(["accepted", "already_inside", "not_inside"]);
const $ = (id) => document.getElementById(id);
const stored = (key) => {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
};
const store = (key, value) => {
  try {
    localStorage.setItem(key, value);
  } catch {
    // not remembered over a reload
  }
};

const page = {
  token: null,
  claims: null,
  device: "",
  event: null,
  key: null,
  socket: null,
  outbox: null,
  sender: null,
  recent: null,
  camera: null,
  search: null,
  session: "",
  clockOffset: Number(stored("podium.scan.clockOffset") || 0), // server minus local, s
  last: null, // {id, seq, at}: the scan "undo" applies to
  shownId: "", // the scan on the card now
};

const now = () => Date.now() / 1000 + page.clockOffset;
const direction = () => (document.querySelector("input[name=direction]:checked") || {}).value || "in";

function problem(text) {
  const el = $("problem");
  el.textContent = text;
  el.hidden = !text;
}

function setConn(state) {
  const el = $("conn");
  el.dataset.state = state;
  el.dataset.i18n = `scan.conn.${state}`;
  el.textContent = t(`scan.conn.${state}`);
}

function setQueued(n) {
  const el = $("queued");
  el.dataset.count = String(n);
  el.textContent = t("scan.queued", { n });
}

// -- scans ---------------------------------------------------------------------------

function show(view, outcome, scanId) {
  page.shownId = scanId;
  showCard($("result"), view, { outcome, scanId });
  signal(view.tone);
}

/** A scan from any input: a badge `code`, or a `person` found by search (manual). */
async function scan({ code = null, person = null }) {
  unlockAudio();
  if (!page.session) return;
  const id = newId();
  const dir = direction();
  const item = { id, session: page.session, direction: dir, scanned_at: now() };
  let label = "";
  let local = null;
  if (person) {
    item.participant = person.id;
    label = person.name;
    local = { outcome: "offline_ok", participant: person };
  } else {
    const verdict = await checkBadge(code, page.key);
    if (verdict.failure) {
      local = { outcome: verdict.failure };
      label = codeLabel(code);
    } else {
      label = verdict.participant;
      local = { outcome: "offline_ok", participant: { id: verdict.participant } };
    }
    item.code = code;
  }
  const live = page.socket.state === "live";
  if (!live && local.outcome !== "offline_ok") {
    // Offline, not a genuine badge: red now, and never queued (nothing to record).
    const view = describe(local, dir, page.event.timezone);
    show(view, local.outcome, id);
    page.recent.put(id, {
      label: codeLabel(code),
      tone: "bad",
      title: view.title,
      outcome: local.outcome,
      at: item.scanned_at,
      direction: dir,
      state: "local",
    });
    return;
  }
  item.offline = !live;
  const seq = await page.outbox.add(item);
  page.last = { id, seq, at: item.scanned_at };
  $("undo").disabled = false;
  page.recent.put(id, {
    label,
    tone: "pending",
    title: "",
    at: item.scanned_at,
    direction: dir,
    manual: Boolean(person),
    state: "queued",
  });
  if (live) {
    page.shownId = id;
    // The answer usually comes in a few ms. If not, the last person's card must not stay
    // up as if it were this one's: "checking" soon, and if the network hangs, "kept".
    setTimeout(() => {
      if (page.shownId === id && $("result").dataset.scanId !== id) {
        const view = { tone: "pending", title: t("scan.waiting"), name: label, org: "", why: "" };
        showCard($("result"), view, { outcome: "", scanId: id });
      }
    }, CHECKING_AFTER_MS);
    setTimeout(() => {
      if (page.shownId === id && !$("result").dataset.outcome) showLocal(local, dir, id);
    }, SLOW_ANSWER_MS);
    page.sender.kick();
  } else {
    showLocal(local, dir, id);
  }
}

/** A short name for a code that is no genuine badge: the id it claims, else its start. */
function codeLabel(code) {
  const parts = code.split(".");
  if (parts.length === 3 && parts[1]) return parts[1].slice(0, 24);
  return code.length > 16 ? `${code.slice(0, 16)}…` : code;
}

function showLocal(local, dir, id) {
  show(describe(local, dir, page.event.timezone), local.outcome, id);
}

/** Answers from the server, in the order the scans were made. */
function onResults(items, results) {
  items.forEach((item, i) => {
    const result = results[i] || { type: "error", code: "internal", message: "no answer" };
    const view = describe(result, item.direction, page.event.timezone);
    const outcome = result.outcome || result.code || "error";
    const before = page.recent.get(item.id);
    const label = (result.participant && result.participant.name) || (before && before.label) || "";
    page.recent.put(item.id, {
      label,
      tone: view.tone,
      title: view.title,
      outcome,
      at: item.scanned_at,
      direction: item.direction,
      manual: Boolean(item.participant),
      state: item.offline ? "synced" : "answered",
    });
    if (page.last && page.last.id === item.id && !RECORDED.has(outcome)) {
      page.last = null; // nothing recorded: nothing to undo
      $("undo").disabled = true;
    }
    // The card shows the newest scan's answer; an upload's answers go to the list,
    // except one that needs attention now (e.g. a revoked badge let in while offline).
    if (page.shownId === item.id || (item.offline && view.tone === "bad")) {
      show(view, outcome, item.id);
    }
  });
}

async function undo() {
  const last = page.last;
  if (!last || now() - last.at > UNDO_WINDOW_S) return;
  $("undo").disabled = true;
  page.last = null;
  const note = $("undo-note");
  note.textContent = "";
  if ((await page.outbox.has(last.seq)) && page.sender.withdraw(last.id)) {
    await page.outbox.remove([last.seq]); // never sent: gone
    return undone(last.id);
  }
  try {
    const reply = await page.socket.request("annul", { scan_id: last.id });
    if (reply.outcome === "annulled") return undone(last.id);
  } catch (err) {
    note.textContent = t("scan.undo_failed", { reason: err.message || err.code });
  }
  return undefined;
}

function undone(id) {
  page.recent.put(id, { state: "undone", tone: "warn" });
  const name = (page.recent.get(id) || {}).label || "";
  show({ tone: "warn", title: t("scan.undone"), name, org: "", why: "" }, "undone", id);
}

// -- the room's count -------------------------------------------------------------------

async function follow() {
  $("inside").textContent = t("scan.inside_unknown");
  if (page.socket.state !== "live" || !page.session) return;
  const session = page.session;
  try {
    const snap = await page.socket.request("subscribe", { session });
    if (session === page.session) showInside(snap.sessions[session]);
  } catch {
    // not allowed to follow it: no count shown
  }
}

function showInside(counts) {
  if (counts && typeof counts.inside === "number") $("inside").textContent = String(counts.inside);
}

// -- inputs ---------------------------------------------------------------------------

function keepFocus() {
  // A USB scanner types wherever the focus is: bring it back to the code field unless
  // staff are using another control.
  const code = $("code");
  document.addEventListener("keydown", (ev) => {
    unlockAudio();
    const active = document.activeElement;
    const typing =
      active &&
      (active.matches("input:not([type=radio]), select, textarea") || active.isContentEditable);
    if (!typing && ev.key.length === 1 && !ev.ctrlKey && !ev.metaKey && !ev.altKey) code.focus();
  });
  document.addEventListener("click", (ev) => {
    unlockAudio();
    if (!ev.target.closest("input, select, button, label, a, video")) code.focus();
  });
  code.focus();
}

function wireInputs() {
  $("code-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("code").value.trim();
    $("code").value = "";
    $("code").focus();
    if (code) scan({ code });
  });
  $("session").addEventListener("change", () => {
    page.session = $("session").value;
    store("podium.scan.session", page.session);
    follow();
  });
  for (const radio of document.querySelectorAll("input[name=direction]")) {
    radio.addEventListener("change", () => {
      store("podium.scan.direction", direction());
      page.search.refresh();
    });
  }
  const saved = stored("podium.scan.direction");
  if (saved === "out") $("dir-out").checked = true;
  $("undo").addEventListener("click", undo);
  page.camera = new Camera($("video"), { onCode: (code) => scan({ code }) });
  $("camera-toggle").addEventListener("click", toggleCamera);
  $("torch").addEventListener("click", async () => {
    const on = !page.camera.torch;
    if (await page.camera.setTorch(on)) {
      $("torch").setAttribute("aria-pressed", String(on));
      $("torch").dataset.i18n = on ? "scan.torch_off" : "scan.torch_on";
      $("torch").textContent = t($("torch").dataset.i18n);
    }
  });
  page.search = new SearchBox({
    input: $("search"),
    note: $("search-note"),
    list: $("search-results"),
    socket: page.socket,
    direction,
    onPick: (person) => {
      page.search.clear();
      $("code").focus();
      scan({ person });
    },
  });
  setInterval(() => {
    const stats = page.camera.decodeStats();
    if (page.camera.running && stats) {
      const decoder = t("scan.camera_decoder", { name: page.camera.decoder.name });
      $("camera-note").textContent = `${decoder} · ${stats.p50.toFixed(0)} ms/frame`;
      $("camera-note").dataset.p50 = stats.p50.toFixed(2);
      $("camera-note").dataset.p95 = stats.p95.toFixed(2);
      $("camera-note").dataset.frames = String(stats.n);
      $("camera-note").dataset.decoder = page.camera.decoder.name;
    }
  }, 1000);
}

async function toggleCamera() {
  unlockAudio();
  const button = $("camera-toggle");
  if (page.camera.running) {
    page.camera.stop();
    $("video").hidden = true;
    $("torch").hidden = true;
    button.dataset.i18n = "scan.camera_start";
    button.textContent = t("scan.camera_start");
    return;
  }
  try {
    $("video").hidden = false;
    await page.camera.start();
    $("torch").hidden = !page.camera.hasTorch;
    button.dataset.i18n = "scan.camera_stop";
    button.textContent = t("scan.camera_stop");
    $("camera-note").textContent = t("scan.camera_decoder", { name: page.camera.decoder.name });
  } catch (err) {
    page.camera.stop();
    $("video").hidden = true;
    $("camera-note").textContent = t("scan.camera_denied", { reason: err.message || err.name });
  }
}

// -- start ------------------------------------------------------------------------------

function refreshSessions() {
  const bound = page.claims ? page.claims.session : null;
  const chosen = page.session || stored("podium.scan.session") || "";
  const { selected, anyOpen } = fillSessions($("session"), page.event, bound, now(), chosen);
  if (selected !== page.session) {
    page.session = selected;
    follow();
  }
  problem(anyOpen ? "" : t("scan.no_sessions"));
}

async function loadTheEvent() {
  try {
    const event = await loadEvent(); // from the service worker's copy when offline
    store("podium.scan.event", JSON.stringify(event));
    return event;
  } catch {
    const kept = stored("podium.scan.event");
    return kept ? JSON.parse(kept) : null;
  }
}

async function start(device) {
  page.device = device;
  $("device-form").hidden = true;
  $("scanner").hidden = false;
  const [event, key, outbox] = await Promise.all([
    loadTheEvent(),
    loadBadgeKey(),
    Outbox.open(device),
  ]);
  page.event = event || { sessions: [], timezone: "UTC" };
  page.key = key;
  page.outbox = outbox;
  outbox.addEventListener("size", (ev) => setQueued(ev.detail));
  setQueued(outbox.size);
  page.recent = new RecentScans({
    list: $("recent"),
    empty: $("recent-empty"),
    storageKey: `podium.scan.recent:${device}`,
    timeZone: page.event.timezone,
  });
  const socket = new PodiumSocket({ token: page.token, device });
  page.socket = socket;
  page.sender = new Sender({ socket, outbox, onResults });
  socket.addEventListener("state", (ev) => {
    setConn(ev.detail);
    // the count is the server's: not known while away from it
    if (ev.detail !== "live") $("inside").textContent = t("scan.inside_unknown");
    if (ev.detail === "refused") {
      problem(t("scan.refused", { reason: socket.refusal ? socket.refusal.message : "" }));
    }
  });
  socket.addEventListener("welcome", (ev) => {
    page.clockOffset = ev.detail.server_time - Date.now() / 1000;
    store("podium.scan.clockOffset", String(page.clockOffset));
    if (ev.detail.event && !event) page.event = ev.detail.event;
    refreshSessions();
    follow();
    page.sender.kick();
  });
  socket.addEventListener("message", (ev) => {
    const msg = ev.detail;
    if (msg.type === "update" && msg.sessions) showInside(msg.sessions[page.session]);
  });
  wireInputs();
  refreshSessions();
  setInterval(refreshSessions, 60_000);
  // The phone's own word that its network is gone: closing at once beats waiting for a
  // ping. Not asked at start: some systems call a loopback-only host offline.
  window.addEventListener("offline", () => socket.close());
  window.addEventListener("online", () => socket.connect());
  socket.connect();
  keepFocus();
  document.addEventListener("langchange", () => {
    refreshSessions();
    page.recent.render();
    page.search.refresh();
    setQueued(outbox.size);
  });
  document.body.dataset.ready = "true";
}

function askDevice() {
  $("device-form").hidden = false;
  const input = $("device-name");
  input.value = `door-${Math.random().toString(36).slice(2, 6)}`;
  input.focus();
  input.select();
  $("device-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    store("podium.scan.device", name);
    start(name);
  });
}

function main() {
  mountLangSwitch($("lang"));
  applyI18n();
  setQueued(0);
  page.token = takeToken();
  if (!page.token) {
    setConn("refused");
    problem(t("scan.no_token"));
    return;
  }
  page.claims = tokenClaims(page.token);
  if (page.claims && !["staff", "organizer"].includes(page.claims.role)) {
    setConn("refused");
    problem(t("scan.no_token")); // a trainee's or speaker's link: not a scanner
    return;
  }
  if ("serviceWorker" in navigator) {
    // Keeps this page and its modules for a reload with no network (see scan-sw.js).
    navigator.serviceWorker.register("/static/js/scan-sw.js", { scope: "/scan" }).catch(() => {});
  }
  const device = (page.claims && page.claims.device) || stored("podium.scan.device");
  if (device) start(device);
  else askDevice();
}

main();
