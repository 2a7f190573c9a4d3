// Badge codes checked in the browser, with the event's Ed25519 public key: a forged badge
// shows red with no network at all. The server checks every badge again; this only
// decides what the door sees while offline and what is never worth queueing.
//
// Code: `PB1.<participant id>.<base64url signature of "podium-badge:" + id>`.

import { api } from "./api.js";

const KEY_STORAGE = "podium.scan.badgeKey";
const CONTEXT = "podium-badge:";
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SIGNATURE_RE = /^[A-Za-z0-9_-]{86}$/;

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function base64UrlBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/**
 * The badge key as a WebCrypto key: fetched, and remembered for the next load without
 * network. null when neither works (or this browser has no Ed25519): badges are then
 * taken on shape alone until the server answers.
 */
export async function loadBadgeKey() {
  let hex = null;
  try {
    const body = await api("/api/v1/badge-key");
    if (body && body.alg === "Ed25519" && /^[0-9a-f]{64}$/.test(body.public_key_hex)) {
      hex = body.public_key_hex;
      localStorage.setItem(KEY_STORAGE, hex);
    }
  } catch {
    // offline: the remembered key
  }
  if (!hex) {
    try {
      hex = localStorage.getItem(KEY_STORAGE);
    } catch {
      hex = null;
    }
  }
  if (!hex) return null;
  try {
    return await crypto.subtle.importKey("raw", hexBytes(hex), { name: "Ed25519" }, false, [
      "verify",
    ]);
  } catch {
    return null;
  }
}

/**
 * What a scanned text is: {participant, verified} for a genuine badge (verified false
 * when no key could check it), or {failure: "malformed" | "invalid_signature"}.
 */
export async function checkBadge(code, key) {
  const parts = String(code).trim().split(".");
  if (parts.length !== 3 || parts[0] !== "PB1" || !ID_RE.test(parts[1])) {
    return { failure: "malformed" };
  }
  if (!SIGNATURE_RE.test(parts[2])) return { failure: "malformed" };
  if (!key) return { participant: parts[1], verified: false };
  const message = new TextEncoder().encode(CONTEXT + parts[1]);
  let genuine = false;
  try {
    genuine = await crypto.subtle.verify({ name: "Ed25519" }, key, base64UrlBytes(parts[2]), message);
  } catch {
    genuine = false;
  }
  return genuine ? { participant: parts[1], verified: true } : { failure: "invalid_signature" };
}
