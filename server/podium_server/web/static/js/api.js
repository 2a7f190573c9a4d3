// HTTP calls to Podium's API: JSON in and out, errors as ApiError {status, code, message}
// read from the server's `{"error": {"code", "message"}}` body.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0: the request never got an answer (network down)
    this.code = code;
  }
}

function isRawBody(body) {
  return (
    typeof body === "string" ||
    body instanceof Blob ||
    body instanceof FormData ||
    body instanceof ArrayBuffer ||
    body instanceof URLSearchParams
  );
}

/** The error an answer carries (JSON error body if there is one). */
export async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const data = await response.json();
    if (data && data.error) {
      code = data.error.code || code;
      message = data.error.message || message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

/** fetch(path) with the token as a bearer; parsed JSON (or text) or throws ApiError. */
export async function api(path, { method = "GET", body, headers = {}, token } = {}) {
  const sent = new Headers(headers);
  if (token) sent.set("Authorization", `Bearer ${token}`);
  let payload = body;
  if (body !== undefined && body !== null && !isRawBody(body)) {
    payload = JSON.stringify(body);
    if (!sent.has("Content-Type")) sent.set("Content-Type", "application/json");
  }
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body: payload, cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "network", err && err.message ? err.message : String(err));
  }
  if (!response.ok) throw await errorOf(response);
  const type = response.headers.get("Content-Type") || "";
  if (response.status === 204) return null;
  return type.includes("json") ? response.json() : response.text();
}
