// The page's token: taken from the URL fragment (`#token=…`, never sent to any server
// in a URL), kept in sessionStorage for reloads, and removed from the address bar so it
// is not shared by a copied link or a screenshot.

const STORAGE_KEY = "podium.token";

function fragmentParams() {
  const hash = location.hash.startsWith("#") ? location.hash.slice(1) : location.hash;
  return new URLSearchParams(hash);
}

function stored() {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled (private mode on some phones)
  }
}

/** The token from the fragment (then stored and removed from the URL), else the stored one. */
export function takeToken() {
  const params = fragmentParams();
  const fromUrl = params.get("token");
  if (!fromUrl) return stored();
  try {
    sessionStorage.setItem(STORAGE_KEY, fromUrl);
  } catch {
    // Not kept: the page still works until it is reloaded.
  }
  params.delete("token");
  const rest = params.toString();
  const url = location.pathname + location.search + (rest ? `#${rest}` : "");
  history.replaceState(history.state, "", url);
  return fromUrl;
}

/** Forget the stored token (e.g. after the server refused it). */
export function forgetToken() {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}

function base64UrlDecode(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/**
 * The claims a token carries, for display only (the server checks the signature):
 * {role, session, participant, device, exp} or null when the token is not readable.
 * Format `pd1.<base64url JSON>.<signature>`.
 */
export function tokenClaims(token) {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== "pd1") return null;
  try {
    const data = JSON.parse(base64UrlDecode(parts[1]));
    return {
      role: data.role ?? null,
      session: data.session ?? null,
      participant: data.participant ?? null,
      device: data.device ?? null,
      exp: typeof data.exp === "number" ? data.exp : null,
    };
  } catch {
    return null;
  }
}
