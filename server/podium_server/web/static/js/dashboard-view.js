// The dashboard's view: everything it draws from its state (the programme, the roster's
// figures, each session's live counts, the selected session's arrivals). An update
// redraws only what it touched; `renderAll()` redraws everything (snapshot, language).

import { BarChart, drawArrivals } from "./dashboard-charts.js";
import { provinceName } from "./dashboard-strings.js";
import { sessionState } from "./event.js";
import { applyI18n, formatDateTime, formatTime, lang, t } from "./i18n.js";

const ORG_TYPES = [
  "government",
  "university",
  "research_institute",
  "industrial_park",
  "transfer_center",
  "enterprise",
  "other",
];

const $ = (id) => document.getElementById(id);

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

function percent(part, whole) {
  return whole > 0 ? Math.round((Math.min(part, whole) / whole) * 100) : 0;
}

/** The sessions by start time. */
export function sortedSessions(state) {
  return [...(state.event?.sessions || [])].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

/** The live session first, else the next to start, else the last one. */
export function defaultSession(state) {
  const sessions = sortedSessions(state);
  const now = Date.now();
  return (
    sessions.find((s) => sessionState(s, now) === "live") ||
    sessions.find((s) => sessionState(s, now) === "upcoming") ||
    sessions[sessions.length - 1] ||
    null
  );
}

export class DashboardView {
  /** `state` is read, never changed here; `onSelect(sessionId)` when a row is chosen. */
  constructor(state, onSelect) {
    this.state = state;
    this.onSelect = onSelect;
    this.connectionState = "connecting";
    this.provinceBars = new BarChart($("province-bars"));
    this.orgBars = new BarChart($("org-bars"));
    this.timeFormats = new Map(); // "lang zone" -> Intl.DateTimeFormat: made once each
  }

  selectedSession() {
    return sortedSessions(this.state).find((s) => s.id === this.state.selected) || null;
  }

  notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  showConnection(connection) {
    this.connectionState = connection;
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

  figure(list, key, value, { id, note } = {}) {
    const dt = el("dt", { text: t(key) });
    const dd = el("dd", { text: String(value) });
    if (id) dd.id = id;
    const wrap = el("div", { class: "figure" }, dt, dd);
    if (note) wrap.append(el("p", { class: "muted note", text: note }));
    list.append(wrap);
  }

  renderHeadline() {
    const list = $("headline-figures");
    const s = this.state.summary;
    if (!s) return;
    list.replaceChildren();
    const other = Math.max(0, 100 - s.government_pct - s.universities_and_research_pct);
    this.figure(list, "dash.trainees", s.count, { id: "fig-trainees" });
    this.figure(list, "dash.provinces", s.provinces, { id: "fig-provinces" });
    this.figure(list, "dash.gov_share", `${s.government_pct}%`);
    this.figure(list, "dash.uni_share", `${s.universities_and_research_pct}%`);
    this.figure(list, "dash.other_share", `${other}%`);
  }

  /** The selected session's title, state and times (not per update: they change slowly). */
  renderFocusHead() {
    const session = this.selectedSession();
    if (!session) return;
    const zone = this.state.event.timezone;
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
  renderFocus() {
    const session = this.selectedSession();
    if (!session) return;
    const c = this.state.counts.get(session.id);
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
      for (const [name, key] of values) this.figure(list, key, "", { id: `now-${name}` });
    }
    for (const [name, key, value] of values) {
      const dd = $(`now-${name}`);
      setText(dd.previousElementSibling, t(key));
      setText(dd, String(value));
    }
    $("present-bar").setAttribute("width", String(percent(present, c.registered)));
  }

  renderBreakdowns() {
    const session = this.selectedSession();
    const c = session && this.state.counts.get(session.id);
    const s = this.state.summary;
    if (!c || !s) return;
    const language = lang();
    const provinces = Object.keys(s.by_province);
    for (const name of Object.keys(c.by_province)) if (!provinces.includes(name)) provinces.push(name);
    this.provinceBars.update(
      provinces.map((name) => ({
        key: name,
        label: provinceName(name, language) || t("province.unknown"),
        value: c.by_province[name] || 0,
        total: s.by_province[name] || 0,
      })),
      (row) => t("dash.bar_label", row)
    );
    this.orgBars.update(
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

  /** "14:05" in the event's zone, with a formatter made once (each costs a fraction of a ms). */
  clock(epochSeconds) {
    const zone = this.state.event.timezone;
    const key = `${lang()} ${zone}`;
    let format = this.timeFormats.get(key);
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
      this.timeFormats.set(key, format);
    }
    return format.format(epochSeconds * 1000);
  }

  renderRecent() {
    const session = this.selectedSession();
    const c = session && this.state.counts.get(session.id);
    const list = $("recent");
    if (!c) return;
    const items = (c.recent || []).slice(0, 12).map((r) => {
      const direction = ["in", "out", "annulled"].includes(r.direction) ? r.direction : "in";
      return el(
        "li",
        { class: `dir-${direction}` },
        el("span", { class: "recent-time", text: this.clock(r.at) }),
        el("span", { class: "recent-dir", text: t(`dash.dir_${direction}`) }),
        el("span", { class: "recent-name", text: r.name || r.participant }),
        el("span", { class: "muted recent-where", text: [provinceName(r.province, lang()), r.device].filter(Boolean).join(" · ") })
      );
    });
    if (!items.length) items.push(el("li", { class: "muted", text: t("dash.recent_none") }));
    list.replaceChildren(...items);
  }

  renderSessionsTable() {
    const body = $("sessions-body");
    const now = Date.now();
    const rows = sortedSessions(this.state).map((session) => {
      const c = this.state.counts.get(session.id);
      const live = sessionState(session, now) === "live";
      const pick = el("button", {
        type: "button",
        class: "linklike",
        text: session.title,
        "aria-label": t("dash.choose", { title: session.title }),
        "aria-pressed": String(session.id === this.state.selected),
      });
      pick.addEventListener("click", () => this.onSelect(session.id));
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
        { class: session.id === this.state.selected ? "selected" : "", "data-session": session.id },
        title,
        ...tds
      );
    });
    body.replaceChildren(...rows);
  }

  renderSelect() {
    const select = $("session-select");
    const options = sortedSessions(this.state).map((s) => {
      const option = el("option", { value: s.id, text: s.title });
      option.selected = s.id === this.state.selected;
      return option;
    });
    select.replaceChildren(...options);
  }

  renderArrivals() {
    const box = $("arrivals-chart");
    const data = this.state.arrivals;
    if (!data || data.session !== this.state.selected) {
      box.replaceChildren();
      return;
    }
    const zone = this.state.event.timezone;
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
  renderAll() {
    applyI18n();
    if (!this.state.event) return;
    performance.mark("dashboard-render-all-start");
    document.title = `${t("dash.title")} · ${this.state.event.title}`;
    setText($("event-title"), this.state.event.title);
    this.renderHeadline();
    this.renderSelect();
    this.renderFocusHead();
    this.renderFocus();
    this.renderBreakdowns();
    this.renderRecent();
    this.renderSessionsTable();
    this.renderArrivals();
    this.showConnection(this.connectionState);
    performance.measure("dashboard-render-all", "dashboard-render-all-start");
  }

  /** What an update touched; timed, so the render cost per update can be measured. */
  renderUpdate(sessionIds) {
    performance.mark("dashboard-render-start");
    if (sessionIds.includes(this.state.selected)) {
      this.renderFocus();
      this.renderBreakdowns();
      this.renderRecent();
    }
    this.renderSessionsTable();
    performance.measure("dashboard-render", "dashboard-render-start");
  }
}
