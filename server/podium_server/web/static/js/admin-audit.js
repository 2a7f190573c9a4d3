// /admin's audit log: filtered by kind, device and participant, newest first, a page
// at a time (the server says where the next, older page starts).

import { AUDIT_KINDS } from "./admin-strings.js";
import { call, el, errorMessage } from "./admin-dom.js";
import { t } from "./i18n.js";

const PAGE = 50;
const TIMES = new Set(["at", "exp", "scanned_at", "first_seen_at"]);

export class AuditLog {
  constructor(token, timeZone) {
    this.token = token;
    this.timeZone = timeZone;
    this.older = null; // `before` of the next older page
    this.filter = {};
    this.body = document.getElementById("audit-body");
    this.status = document.getElementById("audit-status");
    this.olderButton = document.getElementById("audit-older");
    document.getElementById("audit-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.filter = {
        kind: document.getElementById("audit-kind").value,
        device: document.getElementById("audit-device").value.trim(),
        participant: document.getElementById("audit-participant").value.trim(),
      };
      this.load();
    });
    document.getElementById("audit-newest").addEventListener("click", () => this.load());
    this.olderButton.addEventListener("click", () => this.load(this.older));
    this.renderKinds();
  }

  renderKinds() {
    const select = document.getElementById("audit-kind");
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "", text: t("admin.any_kind") }),
      ...AUDIT_KINDS.map((k) => el("option", { value: k, text: t(`kind.${k}`) }))
    );
    select.value = chosen;
  }

  async load(before = null) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    for (const [key, value] of Object.entries(this.filter)) if (value) query.set(key, value);
    if (before !== null) query.set("before", String(before));
    const result = await call(`/api/v1/audit?${query}`, { token: this.token });
    if (!result.ok) {
      this.status.textContent = errorMessage(result);
      return;
    }
    const { entries, older } = result.data;
    this.older = older;
    this.body.replaceChildren(...entries.map((e) => this.row(e)));
    this.olderButton.disabled = older === null;
    const parts = [entries.length ? t("admin.audit_count", { count: entries.length }) : t("admin.audit_none")];
    if (older === null) parts.push(t("admin.audit_end"));
    this.status.textContent = parts.join(" ");
  }

  time(at) {
    const options = { dateStyle: "short", timeStyle: "medium", hourCycle: "h23" };
    try {
      const locale = document.documentElement.lang === "zh-CN" ? "zh-CN" : "en-GB";
      return new Intl.DateTimeFormat(locale, { ...options, timeZone: this.timeZone }).format(at * 1000);
    } catch {
      return new Date(at * 1000).toISOString();
    }
  }

  /** A detail's value as read: instants as times in the event's zone. */
  value(key, v) {
    if (TIMES.has(key) && typeof v === "number") return this.time(v);
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  row(entry) {
    const detail = { ...(entry.detail || {}) };
    const participant = detail.participant || "";
    delete detail.participant;
    const summary = Object.entries(detail)
      .map(([k, v]) => `${k}: ${this.value(k, v)}`)
      .join(" · ");
    const kind = t(`kind.${entry.kind}`);
    // data-label: on a phone each entry is a block, each value under its name
    return el(
      "tr",
      { "data-kind": entry.kind },
      el("td", { class: "nowrap when", text: this.time(entry.at) }),
      el("td", { class: "what", text: kind === `kind.${entry.kind}` ? entry.kind : kind, title: entry.kind }),
      el("td", { "data-label": t("admin.device"), text: entry.device }),
      el("td", { "data-label": t("admin.participant"), text: participant }),
      el("td", { class: "detail", text: summary })
    );
  }
}
