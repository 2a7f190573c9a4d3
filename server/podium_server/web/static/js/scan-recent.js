// The last few scans of this device, newest first: who, what the answer was, when, and
// whether it is still waiting to be sent. Kept in localStorage so a reload (offline too)
// still shows what was just done.

import { formatTime, t } from "./i18n.js";

const KEPT = 8;
const MARK = { ok: "✓", warn: "!", bad: "✗", pending: "…" };

export class RecentScans {
  constructor({ list, empty, storageKey, timeZone }) {
    this.list = list;
    this.empty = empty;
    this.key = storageKey;
    this.timeZone = timeZone;
    this.items = [];
    try {
      this.items = JSON.parse(localStorage.getItem(this.key) || "[]");
    } catch {
      this.items = [];
    }
    this.render();
  }

  /** Add or update the entry of scan `id` with `fields`. */
  put(id, fields) {
    const found = this.items.find((x) => x.id === id);
    if (found) Object.assign(found, fields);
    else this.items.unshift({ id, ...fields });
    this.items = this.items.slice(0, KEPT);
    this._save();
    this.render();
  }

  get(id) {
    return this.items.find((x) => x.id === id) || null;
  }

  _save() {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.items));
    } catch {
      // not kept over a reload
    }
  }

  render() {
    this.empty.hidden = this.items.length > 0;
    this.list.replaceChildren(
      ...this.items.map((item) => {
        const li = document.createElement("li");
        li.dataset.scanId = item.id;
        li.dataset.state = item.state;
        li.dataset.outcome = item.outcome || "";
        const who = document.createElement("div");
        who.className = "who";
        const line = document.createElement("strong");
        const mark = document.createElement("span");
        mark.className = `mark ${item.tone || "pending"}`;
        mark.setAttribute("aria-hidden", "true");
        mark.textContent = MARK[item.tone] || MARK.pending;
        line.append(mark, item.label || "");
        const detail = document.createElement("span");
        detail.className = "muted";
        const parts = [item.direction === "out" ? t("scan.out") : t("scan.in"), item.title || ""];
        if (item.manual) parts.push(t("scan.manual"));
        if (item.state === "queued") parts.push(t("scan.recent_queued"));
        if (item.state === "undone") parts.push(t("scan.undone"));
        detail.textContent = parts.filter(Boolean).join(" · ");
        who.append(line, detail);
        const time = document.createElement("span");
        time.className = "time";
        time.textContent = formatTime(item.at, this.timeZone);
        li.append(who, time);
        return li;
      })
    );
  }
}
