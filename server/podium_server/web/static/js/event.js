// The event's programme (public) and where a session stands in time.

import { api } from "./api.js";

export function loadEvent() {
  return api("/api/v1/event");
}

/** "live" | "upcoming" | "ended" at nowMs (milliseconds, like Date.now()). */
export function sessionState(session, nowMs = Date.now()) {
  if (nowMs < Date.parse(session.start)) return "upcoming";
  if (nowMs < Date.parse(session.end)) return "live";
  return "ended";
}

export function findSession(event, sessionId) {
  return (event.sessions || []).find((s) => s.id === sessionId) || null;
}

/** {live: [sessions live now], next: the first session still to start, or null}. */
export function nowAndNext(event, nowMs = Date.now()) {
  const sessions = [...(event.sessions || [])].sort(
    (a, b) => Date.parse(a.start) - Date.parse(b.start)
  );
  return {
    live: sessions.filter((s) => sessionState(s, nowMs) === "live"),
    next: sessions.find((s) => sessionState(s, nowMs) === "upcoming") || null,
  };
}

/** The calendar day of an instant in the event's timezone, for grouping ("2021-04-24"). */
export function dayOf(value, timeZone) {
  const date = new Date(value);
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(date);
  } catch {
    return date.toISOString().slice(0, 10);
  }
}
