// `/`: the programme (what is live now, what is next, every session by day) and the
// links that fit the visitor's role, when their personal link brought a token.

import { ApiError } from "./api.js";
import { dayOf, loadEvent, nowAndNext, sessionState } from "./event.js";
import {
  addStrings,
  applyI18n,
  formatDate,
  formatDateTime,
  formatTime,
  mountLangSwitch,
  t,
} from "./i18n.js";
import { takeToken, tokenClaims } from "./token.js";

addStrings({
  en: {
    "index.your_links": "Your pages",
    "index.no_token": "Trainees, speakers and staff: open the personal link you were sent.",
    "index.no_event": "No event has been loaded yet.",
    "index.watch_session": "Watch: {title}",
    "index.publish_session": "Go live: {title}",
  },
  "zh-CN": {
    "index.your_links": "您的页面",
    "index.no_token": "学员、演讲人和工作人员：请打开您收到的专属链接。",
    "index.no_event": "尚未加载活动。",
    "index.watch_session": "观看：{title}",
    "index.publish_session": "开始直播：{title}",
  },
});

const REFRESH_MS = 30000;
const token = takeToken();
const claims = tokenClaims(token);
let event = null;

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

function stateTag(session, now) {
  const state = sessionState(session, now);
  if (state === "live") return el("span", { class: "live-badge", text: t("session.live") });
  if (state === "ended") return el("span", { class: "tag muted", text: t("session.ended") });
  return el("span", {
    class: "tag warn",
    text: t("session.upcoming", { time: formatTime(session.start, event.timezone) }),
  });
}

function sessionItem(session, now, { withDay = false, heading = "h3" } = {}) {
  const zone = event.timezone;
  const start = withDay ? formatDateTime(session.start, zone) : formatTime(session.start, zone);
  const times = t("programme.times", { start, end: formatTime(session.end, zone) });
  const item = el(
    "li",
    {},
    el("div", {}, el("span", { class: "session-time", text: times }), " ", stateTag(session, now)),
    el(heading, { text: session.title }),
    el(
      "p",
      { class: "muted" },
      `${t("programme.room", { room: session.room })} · ${t(`mode.${session.mode}`)}`
    )
  );
  if (session.speakers && session.speakers.length) {
    item.append(el("p", { class: "muted", text: session.speakers.join("; ") }));
  }
  const actions = sessionActions(session, now);
  if (actions.childElementCount) item.append(actions);
  return item;
}

function sessionActions(session, now) {
  const box = el("div", { class: "actions" });
  const role = claims && claims.role;
  const ended = sessionState(session, now) === "ended";
  if (session.stream && !ended && (role === "trainee" || role === "organizer" || !role)) {
    box.append(
      el("a", {
        class: "btn",
        href: `/watch/${encodeURIComponent(session.id)}`,
        text: t("link.watch"),
        "aria-label": t("index.watch_session", { title: session.title }),
      })
    );
  }
  const mayPublish =
    role === "organizer" || (role === "speaker" && claims.session === session.id);
  if (session.stream && !ended && mayPublish) {
    box.append(
      el("a", {
        class: "btn secondary",
        href: `/publish/${encodeURIComponent(session.id)}`,
        text: t("link.publish"),
        "aria-label": t("index.publish_session", { title: session.title }),
      })
    );
  }
  return box;
}

function renderRoleLinks() {
  const nav = document.getElementById("role-links");
  const box = document.getElementById("role-actions");
  const role = claims && claims.role;
  document.getElementById("role").textContent = role ? t(`role.${role}`) : "";
  box.replaceChildren();
  const links = [];
  if (role === "staff" || role === "organizer") links.push(["/scan", "link.scan"]);
  if (role === "organizer") links.push(["/dashboard", "link.dashboard"], ["/admin", "link.admin"]);
  if (role === "speaker" && claims.session) {
    links.push([`/publish/${encodeURIComponent(claims.session)}`, "link.publish"]);
  }
  for (const [href, key] of links) box.append(el("a", { class: "btn", href, text: t(key) }));
  nav.hidden = links.length === 0;
}

function render() {
  applyI18n();
  const status = document.getElementById("status");
  renderRoleLinks();
  if (!event) return;
  const now = Date.now();
  document.getElementById("event-title").textContent = event.title;
  document.title = `${event.title} · Podium`;
  status.textContent = token ? "" : t("index.no_token");
  status.hidden = !!token;
  const { live, next } = nowAndNext(event, now);
  const nowList = document.getElementById("now-list");
  nowList.replaceChildren(...live.map((s) => sessionItem(s, now)));
  if (!live.length) nowList.append(el("li", { class: "muted", text: t("programme.none_live") }));
  const nextList = document.getElementById("next-list");
  nextList.replaceChildren(next ? sessionItem(next, now, { withDay: true }) : "");
  if (!next) nextList.append(el("li", { class: "muted", text: t("programme.none_next") }));
  document.getElementById("timezone").textContent = t("programme.timezone", {
    zone: event.timezone,
  });
  const days = new Map();
  for (const s of [...event.sessions].sort((a, b) => Date.parse(a.start) - Date.parse(b.start))) {
    const day = dayOf(s.start, event.timezone);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(s);
  }
  const dayBlocks = [...days.values()].map((sessions) =>
    el(
      "section",
      { class: "card" },
      el("h3", { text: formatDate(sessions[0].start, event.timezone) }),
      el("ul", { class: "sessions" }, ...sessions.map((s) => sessionItem(s, now, { heading: "h4" })))
    )
  );
  document.getElementById("days").replaceChildren(...dayBlocks);
}

async function load() {
  const status = document.getElementById("status");
  try {
    event = await loadEvent();
  } catch (err) {
    status.hidden = false;
    if (err instanceof ApiError && err.status === 503) status.textContent = t("index.no_event");
    else status.textContent = t("error.network");
    setTimeout(load, 5000);
    return;
  }
  render();
}

mountLangSwitch(document.getElementById("lang"));
document.addEventListener("langchange", render);
render();
load();
setInterval(() => event && render(), REFRESH_MS);
