// Talking to the gateway: the token, fetch with the JSON envelope, WebSocket URLs.

const TOKEN_KEY = "genfleet.token";

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: the gateway could not be reached)
   * @param {string} code the envelope's error code, e.g. "busy", "forbidden"
   * @param {string} message human text
   * @param {any} data the envelope's data (an ActionResult that failed, for instance)
   */
  constructor(status, code, message, data = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

let unauthorizedHandler = () => {};

/** Called on every 401: the page shows the login again. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** A WebSocket closed with 4401 (the gateway's code for a refused token) says the same. */
export function notifyUnauthorized() {
  unauthorizedHandler();
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  localStorage.setItem(TOKEN_KEY, token.trim());
}

export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
}

/** The token's claims ({sub, role, exp}) for display only: the server checks the signature. */
export function tokenClaims(token = getToken()) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

/** One path segment, URL-encoded (model names may hold dots, spaces, slashes...). */
export const seg = (value) => encodeURIComponent(String(value));

/**
 * Calls the API and unwraps the envelope. Resolves with `data` on success; rejects with an
 * ApiError otherwise (also for an ActionResult with ok=false, which is HTTP 200 with
 * success=false: the result is in error.data).
 */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await send(path, init);
  const envelope = await envelopeOf(response);
  if (!response.ok || !envelope || envelope.success !== true) throw failure(response, envelope);
  return envelope.data;
}

/**
 * Fetches a file the API serves as itself (a scan report), not in the envelope, with the
 * token. Resolves with {blob, filename}; rejects with an ApiError as `api` does.
 */
export async function apiFile(path) {
  const response = await send(path, {});
  if (!response.ok) throw failure(response, await envelopeOf(response));
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  return { blob: await response.blob(), filename: match ? match[1] : "" };
}

/** A ws:// or wss:// URL on this origin with the token and the given query parameters. */
export function wsUrl(path, params = {}) {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", getToken());
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.href;
}

/** The text to show for a failed call. */
export function describeError(err) {
  if (!(err instanceof ApiError)) return String(err?.message || err);
  if (err.status === 403) return "your role cannot do this";
  if (err.status === 409 && err.code === "busy") return "already running";
  if (err.status === 409) return `conflict: ${err.message}`;
  return err.message || err.code;
}

/** A short random id to match a call with its events. */
export function newId(prefix) {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// --- what `api` and `apiFile` share ----------------------------------------------------------
async function send(path, init) {
  const headers = { ...(init.headers || {}), Authorization: `Bearer ${getToken()}` };
  try {
    return await fetch(path, { ...init, headers });
  } catch (err) {
    throw new ApiError(0, "network", `gateway not reachable (${err.message})`);
  }
}

async function envelopeOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// The error an answer that is not a success stands for; a 401 signs the user out first.
function failure(response, envelope) {
  if (response.status === 401) {
    unauthorizedHandler();
    return new ApiError(401, "unauthenticated", envelope?.message || "please sign in");
  }
  const code = envelope?.error?.code || `http_${response.status}`;
  const message = envelope?.message || response.statusText || "request failed";
  return new ApiError(response.status, code, message, envelope?.data ?? null);
}
