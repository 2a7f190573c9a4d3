// English and Simplified Chinese: strings by key, the language from the browser (or the
// visible switch, remembered), dates and times in the event's timezone.

import { COMMON_STRINGS } from "./strings.js";

export const LANGUAGES = ["en", "zh-CN"];
const STORAGE_KEY = "podium.lang";
const table = { en: {}, "zh-CN": {} };
let current = null;

/** Merge a page's strings: {en: {key: text}, "zh-CN": {key: text}}. */
export function addStrings(strings) {
  for (const code of LANGUAGES) Object.assign(table[code], strings[code] || {});
}

function preferred() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGUAGES.includes(saved)) return saved;
  } catch {
    // storage disabled: follow the browser
  }
  for (const code of navigator.languages || [navigator.language || "en"]) {
    const lower = String(code).toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

export function lang() {
  if (current === null) {
    current = preferred();
    document.documentElement.lang = current;
  }
  return current;
}

/** The text for `key` with `{name}` placeholders filled; English, then the key, as fallback. */
export function t(key, vars = {}) {
  const text = table[lang()][key] ?? table.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function setLang(code) {
  if (!LANGUAGES.includes(code)) return;
  current = code;
  document.documentElement.lang = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // not remembered: this page still switches
  }
  applyI18n(document);
  document.dispatchEvent(new CustomEvent("langchange", { detail: code }));
}

/**
 * Fill `[data-i18n="key"]` text and `[data-i18n-attr="aria-label:key,title:key2"]`
 * attributes under root. `data-i18n-vars` (JSON) fills placeholders.
 */
export function applyI18n(root = document) {
  lang();
  const varsOf = (el) => {
    try {
      return el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : {};
    } catch {
      return {};
    }
  };
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n, varsOf(el));
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key, varsOf(el)));
    }
  }
}

/** A visible EN / 中文 switch in `el` (buttons, keyboard reachable, state announced). */
export function mountLangSwitch(el) {
  el.classList.add("lang-switch");
  el.setAttribute("role", "group");
  el.setAttribute("aria-label", "Language / 语言");
  el.replaceChildren();
  const labels = { en: "EN", "zh-CN": "中文" };
  const names = { en: "English", "zh-CN": "简体中文" };
  const buttons = LANGUAGES.map((code) => {
    const button = document.createElement("button");
    button.type = "button";
    button.lang = code;
    button.textContent = labels[code];
    button.title = names[code];
    button.setAttribute("aria-label", names[code]);
    button.addEventListener("click", () => setLang(code));
    el.append(button);
    return button;
  });
  const mark = () => {
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(LANGUAGES[i] === lang())));
  };
  mark();
  document.addEventListener("langchange", mark);
}

function toDate(value) {
  if (value instanceof Date) return value;
  if (typeof value === "number") return new Date(value * 1000); // epoch seconds
  return new Date(value);
}

function format(value, timeZone, options) {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "";
  const locale = lang() === "zh-CN" ? "zh-CN" : "en-GB";
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(date); // unknown zone name
  }
}

/** "14:00" in the event's timezone (ISO string or epoch seconds). */
export function formatTime(value, timeZone) {
  return format(value, timeZone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** "Sat 24 Apr, 14:00" / "4月24日周六 14:00" in the event's timezone. */
export function formatDateTime(value, timeZone) {
  return format(value, timeZone, {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
}

/** "Saturday 24 April" in the event's timezone. */
export function formatDate(value, timeZone) {
  return format(value, timeZone, { weekday: "long", day: "numeric", month: "long" });
}

/** Minutes and seconds of a duration: "12:05", or "1:02:05" past an hour. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

addStrings(COMMON_STRINGS);
