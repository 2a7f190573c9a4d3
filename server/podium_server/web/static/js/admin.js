// `/admin` (organizer): load the programme and the roster (every bad line shown, nothing
// half-imported), issue staff links (QR code + text) and speaker links (publish page,
// WHIP URL + token for OBS), list and revoke links, revoke badges, download files,
// read the audit log.

import { AuditLog } from "./admin-audit.js";
import { call, el, errorMessage, saveBlob, showResult } from "./admin-dom.js";
import { LinkPanel } from "./admin-links.js";
import { ADMIN_STRINGS } from "./admin-strings.js";
import { loadEvent } from "./event.js";
import { addStrings, applyI18n, mountLangSwitch, t } from "./i18n.js";
import { takeToken, tokenClaims } from "./token.js";

addStrings(ADMIN_STRINGS);

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
let links = null; // the link forms and list, once the token is known to be an organizer's
const $ = (id) => document.getElementById(id);

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
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
      showResult(resultId, "bad", el("p", { text: t("admin.choose_file") }));
      $(inputId).focus();
      return;
    }
    showResult(resultId, "", el("p", { text: t("admin.uploading") }));
    const answer = await call(path, {
      token,
      method: path.endsWith("/event") ? "PUT" : "POST",
      body: await file.arrayBuffer(),
      headers: { "Content-Type": contentType },
    });
    if (answer.ok) {
      showResult(resultId, "ok", el("p", { text: success(answer.data) }));
      if (path.endsWith("/event")) await reloadEvent();
    } else {
      showResult(resultId, "bad", ...refusal(answer));
    }
    refreshAudit();
  });
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
      showResult(resultId, "ok", el("p", { text: t(key, { what, value: answer.data.value }) }));
    } else {
      showResult(resultId, "bad", el("p", { text: errorMessage(answer) }));
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
    await links.loadIssued();
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
      showResult("download-result", "", el("p", { text: t("admin.downloading", { name }) }));
      const answer = await call(path, { token });
      button.disabled = false;
      if (answer.ok && answer.data instanceof Blob) {
        saveBlob(answer.data, name);
        showResult("download-result", "ok", el("p", { text: t("admin.downloaded", { name }) }));
      } else {
        showResult("download-result", "bad", el("p", { text: errorMessage(answer) }));
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
  links.fillSelects();
}

function render() {
  applyI18n();
  if (!event) return;
  document.title = `${t("admin.title")} · ${event.title}`;
  links.fillSelects();
  renderDownloads();
  if (audit) audit.renderKinds();
  links.loadIssued();
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
  revokeForms();
  links = new LinkPanel(token, () => event, () => refreshAudit());
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
