// What a scan looks, sounds and feels like: the full-width result card, a tone per
// colour (WebAudio, no sound files), a vibration pattern per colour on phones. A door is
// loud and busy: green, amber and red must be told apart without reading.

import { formatTime, t } from "./i18n.js";

const TONES = {
  ok: [{ hz: 1046, at: 0, s: 0.12, wave: "sine" }], // one high beep
  warn: [
    { hz: 587, at: 0, s: 0.12, wave: "triangle" }, // two middle beeps
    { hz: 587, at: 0.2, s: 0.12, wave: "triangle" },
  ],
  bad: [{ hz: 160, at: 0, s: 0.5, wave: "sawtooth" }], // one long low buzz
};
const VIBRATE = { ok: [60], warn: [80, 80, 80], bad: [400] };

let audio = null;

/** Browsers start sound only after a user gesture: call this from one (a key, a tap). */
export function unlockAudio() {
  try {
    if (!audio) audio = new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null; // no WebAudio: silent, the card still shows
  }
}

export function signal(tone) {
  if (navigator.vibrate && VIBRATE[tone]) navigator.vibrate(VIBRATE[tone]);
  if (!audio || audio.state !== "running" || !TONES[tone]) return;
  const now = audio.currentTime;
  for (const note of TONES[tone]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = note.wave;
    osc.frequency.value = note.hz;
    // a short fade in and out: no click
    gain.gain.setValueAtTime(0.0001, now + note.at);
    gain.gain.exponentialRampToValueAtTime(0.3, now + note.at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + note.at + note.s);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + note.at);
    osc.stop(now + note.at + note.s + 0.02);
  }
}

const TONE_OF = {
  accepted: "ok",
  already_inside: "warn",
  not_inside: "warn",
  outside_window: "warn",
  unknown_badge: "bad",
  invalid_signature: "bad",
  malformed: "bad",
  revoked: "bad",
  wrong_session: "bad",
};

/**
 * The card for a server answer (`scan.result` or an `error`), or for a local verdict
 * ({outcome: "offline_ok" | "invalid_signature" | "malformed", participant: {id}}).
 * {tone, title, name, org, why}.
 */
export function describe(result, direction, timeZone) {
  const person = result.participant || null;
  const name = person ? person.name || person.id : "";
  const org = person ? [person.organization, person.province].filter(Boolean).join(" · ") : "";
  if (result.type === "error") {
    return { tone: "bad", title: t("outcome.error"), name, org, why: result.message || result.code };
  }
  const outcome = result.outcome;
  if (outcome === "offline_ok") {
    return { tone: "ok", title: t("outcome.offline_ok"), name, org, why: t("scan.offline_saved") };
  }
  const tone = TONE_OF[outcome] || "bad";
  let title = t(`outcome.${outcome}`);
  let why = t(`outcome.${outcome}_why`);
  if (why === `outcome.${outcome}_why`) why = "";
  if (outcome === "accepted") title = t(`outcome.accepted.${direction === "out" ? "out" : "in"}`);
  if (outcome === "already_inside" && result.first_seen_at) {
    title = t("outcome.already_inside_since", { time: formatTime(result.first_seen_at, timeZone) });
  }
  return { tone, title, name, org, why };
}

/** Show `view` on the result card (and keep the outcome and scan id as data for tests). */
export function showCard(card, view, { outcome = "", scanId = "" } = {}) {
  card.classList.remove("ok", "warn", "bad", "idle", "pending");
  card.classList.add(view.tone);
  card.dataset.outcome = outcome;
  card.dataset.scanId = scanId;
  card.querySelector(".result-title").textContent = view.title;
  card.querySelector(".result-name").textContent = view.name || "";
  card.querySelector(".result-org").textContent = view.org || "";
  card.querySelector(".result-why").textContent = view.why || "";
}
