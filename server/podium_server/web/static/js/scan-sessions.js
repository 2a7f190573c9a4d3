// Which sessions this scanner may check people into, and which are open now: by the
// event's check-in window (opens `opens_before_min` before the start, closes
// `closes_after_start_min` after it, or at the end). Online-only sessions have no door.

import { formatTime, t } from "./i18n.js";

const SOON_S = 3 * 3600;

export function checkinWindow(event, session) {
  const policy = event.checkin || {};
  const start = Date.parse(session.start) / 1000;
  const end = Date.parse(session.end) / 1000;
  const opens = start - (policy.opens_before_min ?? 30) * 60;
  const after = policy.closes_after_start_min;
  const closes = after == null ? end : Math.min(end, start + after * 60);
  return { opens, closes };
}

/** Door sessions the token may scan, each with `open` (now, epoch seconds), by start. */
export function doorSessions(event, boundSession, now) {
  return (event.sessions || [])
    .filter((s) => s.mode !== "online" && (!boundSession || s.id === boundSession))
    .map((s) => {
      const { opens, closes } = checkinWindow(event, s);
      return { session: s, opens, open: opens <= now && now <= closes, ended: now > closes };
    })
    .sort((a, b) => Date.parse(a.session.start) - Date.parse(b.session.start));
}

/**
 * Fill the session <select>: the sessions open now, then those still to come (staff may
 * set up early), the chosen one kept. Returns the id selected (or "").
 */
export function fillSessions(select, event, boundSession, now, chosen) {
  const all = doorSessions(event, boundSession, now);
  // open now, or opening within SOON_S: a whole programme would bury the one that matters
  const shown = all.filter(
    (x) => x.open || x.session.id === chosen || (!x.ended && x.opens - now < SOON_S)
  );
  const tz = event.timezone;
  select.replaceChildren(
    ...shown.map(({ session, open }) => {
      const option = document.createElement("option");
      option.value = session.id;
      const time = `${formatTime(session.start, tz)}–${formatTime(session.end, tz)}`;
      option.textContent = open
        ? t("scan.session_open", { title: session.title })
        : t("scan.session_later", { title: session.title, time });
      return option;
    })
  );
  const ids = shown.map((x) => x.session.id);
  const firstOpen = shown.find((x) => x.open);
  const pick = ids.includes(chosen) ? chosen : firstOpen ? firstOpen.session.id : ids[0] || "";
  select.value = pick;
  return { selected: pick, anyOpen: Boolean(firstOpen) };
}
