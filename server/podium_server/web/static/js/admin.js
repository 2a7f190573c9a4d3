// `/admin` (organizer): load the programme and the roster (every bad line shown, nothing
// half-imported), issue staff links (QR code + text) and speaker links (publish page,
// WHIP URL + token for OBS), list and revoke links, revoke badges, download files,
// read the audit log.

import { AuditLog } from "./admin-audit.js";
import { call, copyField, el, errorMessage, qrNode, saveBlob } from "./admin-dom.js";
import { ADMIN_STRINGS } from "./admin-strings.js";
import { loadEvent } from "./event.js";
import { addStrings, applyI18n, formatDateTime, mountLangSwitch, t } from "./i18n.js";
import { takeToken, tokenClaims } from "./token.js";

addStrings(ADMIN_STRINGS);

const TTLS = ["12h", "1d", "3d"];
const DOWNLOADS = [
  ["dl_invitations", "/api/v1/invitations.csv", "invitations.csv"],
  ["dl_badges", "/api/v1/badges.pdf", "badges.pdf"],
  ...["attendance", "certificates", "statistics"].flatMap((kind) =>
    ["xlsx", "csv"].map((fmt) => [`dl_${kind}`, `/api/v1/reports/${kind}.${fmt}`, `${kind}.${fmt}`])
  ),
];

const token = takeToken();
const claims = tokenClaims(token);
let event = null;
let audit = null;
const $ = (id) => document.getElementById(id);

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function result(id, kind, ...children) {
  const box = $(id);
  box.className = `result ${kind}`;
  box.replaceChildren(...children);
}

function sessionTitle(id) {
  const session = event?.sessions.find((s) => s.id === id);
  return session ? session.title : id || t("admin.all_sessions");
}

// -- programme and roster ----------------------------------------------------------

/** The refusal with each bad line next to its number (or the field it is about). */
function refusal(answer) {
  const error = (answer.data && answer.data.error) || {};
  const errors = (error.detail && error.detail.errors) || [];
  const parts = [el("p", { class: "refused", text: t("admin.refused") })];
  if (!errors.length) parts.push(el("p", { text: errorMessage(answer) }));
  if (errors.length) {
    const rows = errors.map((e) =>
      el(
        "tr",
        {},
        el("th", { scope: "row", class: "num", text: e.line != null ? String(e.line) : e.field || "" }),
        el("td", { text: e.reason })
      )
    );
    parts.push(
      el(
        "table",
        { class: "errors" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("admin.line") }), el("th", { scope: "col", text: t("admin.problem") }))),
        el("tbody", {}, ...rows)
      )
    );
  }
  return parts;
}

function uploadForm(formId, inputId, resultId, path, contentType, success) {
  $(formId).addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $(inputId).files[0];
    if (!file) {
      result(resultId, "bad", el("p", { text: t("admin.choose_file") }));
      $(inputId).focus();
      return;
    }
    result(resultId, "", el("p", { text: t("admin.uploading") }));
    const answer = await call(path, {
      token,
      method: path.endsWith("/event") ? "PUT" : "POST",
      body: await file.arrayBuffer(),
      headers: { "Content-Type": contentType },
    });
    if (answer.ok) {
      result(resultId, "ok", el("p", { text: success(answer.data) }));
      if (path.endsWith("/event")) await reloadEvent();
    } else {
      result(resultId, "bad", ...refusal(answer));
    }
    refreshAudit();
  });
}

// -- links -------------------------------------------------------------------------

function fillSessionSelects() {
  const sessions = [...event.sessions].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const staff = $("staff-session");
  const staffChosen = staff.value;
  staff.replaceChildren(
    el("option", { value: "", text: t("admin.all_sessions") }),
    ...sessions.map((s) => el("option", { value: s.id, text: s.title }))
  );
  staff.value = staffChosen;
  const speaker = $("speaker-session");
  const speakerChosen = speaker.value;
  const streamed = sessions.filter((s) => s.stream);
  speaker.replaceChildren(...(streamed.length ? streamed : sessions).map((s) => el("option", { value: s.id, text: s.title })));
  if (speakerChosen) speaker.value = speakerChosen;
  for (const select of document.querySelectorAll("select.ttl")) {
    const chosen = select.value || TTLS[0];
    select.replaceChildren(...TTLS.map((ttl) => el("option", { value: ttl, text: t(`admin.ttl_${ttl}`) })));
    select.value = chosen;
  }
}

function linkResult(link) {
  const parts = [];
  const qr = qrNode(link.qr_svg, t("admin.qr_label"));
  if (link.role === "staff") {
    if (qr) parts.push(el("p", { class: "muted", text: t("admin.scan_qr") }), qr);
    parts.push(copyField(t("admin.link"), link.url, "staff-link-url", t("admin.copy"), t("admin.copied")));
  } else {
    parts.push(copyField(t("admin.publish_link"), link.url, "speaker-link-url", t("admin.copy"), t("admin.copied")));
    parts.push(copyField(t("admin.whip_url"), link.whip_url, "speaker-whip-url", t("admin.copy"), t("admin.copied")));
    parts.push(copyField(t("admin.bearer"), link.token, "speaker-token", t("admin.copy"), t("admin.copied")));
    if (qr) parts.push(qr);
  }
  parts.push(el("p", { class: "muted", text: t("admin.expires_at", { when: formatDateTime(link.exp, event.timezone) }) }));
  return parts;
}

async function issue(resultId, body) {
  const answer = await call("/api/v1/links", {
    token,
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" },
  });
  if (!answer.ok) {
    result(resultId, "bad", el("p", { text: errorMessage(answer) }));
    return;
  }
  result(resultId, "issued", ...linkResult(answer.data));
  await loadIssued();
  refreshAudit();
}

function linkForms() {
  $("staff-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const device = $("staff-device").value.trim();
    if (!device) {
      result("staff-result", "bad", el("p", { text: t("admin.device_needed") }));
      $("staff-device").setAttribute("aria-invalid", "true");
      $("staff-device").focus();
      return;
    }
    $("staff-device").removeAttribute("aria-invalid");
    issue("staff-result", { role: "staff", device, session: $("staff-session").value || null, ttl: $("staff-ttl").value });
  });
  $("speaker-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    issue("speaker-result", { role: "speaker", session: $("speaker-session").value, ttl: $("speaker-ttl").value });
  });
}

async function loadIssued() {
  const answer = await call("/api/v1/links", { token });
  if (!answer.ok) return;
  const now = Date.now() / 1000;
  const rows = answer.data.links.map((link) => {
    const status = el("td");
    if (link.revoked) status.append(el("span", { class: "tag bad", text: t("admin.revoked") }));
    else if (link.exp <= now) status.append(el("span", { class: "tag muted", text: t("admin.expired") }));
    else {
      const button = el("button", {
        type: "button",
        class: "btn danger small",
        text: t("admin.revoke"),
        "aria-label": t("admin.revoke_link", { role: t(`role.${link.role}`), device: link.device || sessionTitle(link.session) }),
      });
      button.addEventListener("click", async () => {
        button.disabled = true;
        await revoke({ token: link.jti }, null);
        await loadIssued();
      });
      status.append(el("span", { class: "tag ok", text: t("admin.active") }), " ", button);
    }
    return el(
      "tr",
      { "data-jti": link.jti },
      el("td", { text: t(`role.${link.role}`) }),
      el("td", { text: link.device || "–" }),
      el("td", { text: sessionTitle(link.session) }),
      el("td", { class: "nowrap", text: formatDateTime(link.exp, event.timezone) }),
      status
    );
  });
  $("issued-body").replaceChildren(...rows);
  $("issued-none").hidden = rows.length > 0;
}

// -- revocation ----------------------------------------------------------------------

async function revoke(body, resultId) {
  const answer = await call("/api/v1/revocations", {
    token,
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" },
  });
  if (resultId) {
    if (answer.ok) {
      const what = t(answer.data.revoked === "badge" ? "admin.what_badge" : "admin.what_token");
      const key = answer.data.already ? "admin.revoked_already" : "admin.revoked_ok";
      result(resultId, "ok", el("p", { text: t(key, { what, value: answer.data.value }) }));
    } else {
      result(resultId, "bad", el("p", { text: errorMessage(answer) }));
    }
  }
  refreshAudit();
  return answer;
}

function revokeForms() {
  $("badge-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const participant = $("badge-participant").value.trim();
    if (participant) await revoke({ badge: participant }, "badge-result");
  });
  $("token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = $("token-value").value.trim();
    if (!value) return;
    await revoke({ token: value }, "token-result");
    await loadIssued();
  });
}

// -- downloads -----------------------------------------------------------------------

function renderDownloads() {
  const items = DOWNLOADS.map(([key, path, name]) => {
    const format = name.split(".").pop().toUpperCase();
    const label = key === "dl_invitations" || key === "dl_badges" ? t(`admin.${key}`) : `${t(`admin.${key}`)} (${format})`;
    const button = el("button", { type: "button", class: "btn secondary", "data-file": name, text: label });
    button.addEventListener("click", async () => {
      button.disabled = true;
      result("download-result", "", el("p", { text: t("admin.downloading", { name }) }));
      const answer = await call(path, { token });
      button.disabled = false;
      if (answer.ok && answer.data instanceof Blob) {
        saveBlob(answer.data, name);
        result("download-result", "ok", el("p", { text: t("admin.downloaded", { name }) }));
      } else {
        result("download-result", "bad", el("p", { text: errorMessage(answer) }));
      }
    });
    return el("li", {}, button);
  });
  $("download-list").replaceChildren(...items);
}

// -- page ----------------------------------------------------------------------------

function refreshAudit() {
  if (audit) audit.load();
}

async function reloadEvent() {
  event = await loadEvent();
  $("event-title").removeAttribute("data-i18n"); // the event's own title, in any language
  $("event-title").textContent = event.title;
  document.title = `${t("admin.title")} · ${event.title}`;
  fillSessionSelects();
}

function render() {
  applyI18n();
  if (!event) return;
  document.title = `${t("admin.title")} · ${event.title}`;
  fillSessionSelects();
  renderDownloads();
  if (audit) audit.renderKinds();
  loadIssued();
  refreshAudit();
}

async function start() {
  mountLangSwitch($("lang"));
  applyI18n();
  if (!token) {
    showNotice(t("token.missing"));
    return;
  }
  if (claims && claims.role !== "organizer") {
    showNotice(t("admin.needs_organizer"));
    return;
  }
  uploadForm("programme-form", "programme-file", "programme-result", "/api/v1/event", "application/toml", (d) =>
    t("admin.programme_ok", { title: d.title, sessions: d.sessions })
  );
  uploadForm("roster-form", "roster-file", "roster-result", "/api/v1/roster", "text/csv", (d) => t("admin.roster_ok", d));
  linkForms();
  revokeForms();
  try {
    await reloadEvent();
  } catch {
    showNotice(t("error.network"));
  }
  const probe = await call("/api/v1/links", { token });
  if (probe.status === 401 || probe.status === 403) {
    showNotice(t("token.refused", { reason: errorMessage(probe) }));
    return;
  }
  audit = new AuditLog(token, event ? event.timezone : "UTC");
  document.addEventListener("langchange", render);
  render();
}

start();
