// REST client: every call carries the bearer token; errors become ApiError with the server's message.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, or 0 when the server could not be reached.
   * @param {string} detail The server's `detail` message, made readable.
   */
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

let token = null;
let onUnauthorized = () => {};

export function setToken(value) {
  token = value;
}

export function getToken() {
  return token;
}

/** Called once when a signed-in request answers 401 (session expired or revoked). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/** Turn an error body into one sentence: `{"detail": "..."}` or FastAPI's list of field errors. */
export async function readDetail(response) {
  let text = "";
  try {
    text = await response.text();
    const body = JSON.parse(text);
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((err) => {
          const where = Array.isArray(err.loc) ? err.loc.filter((p) => p !== "body").join(".") : "";
          return where ? `${where}: ${err.msg}` : String(err.msg);
        })
        .join("; ");
    }
  } catch {
    // not JSON: fall through to the status line
  }
  return text && text.length < 200 ? text : `${response.status} ${response.statusText || "error"}`;
}

/**
 * Call the API.
 * @param {string} path e.g. "/api/v1/zones"
 * @param {{method?: string, body?: unknown, raw?: boolean, accept?: number[]}} options
 *   raw: return the Response (for images and CSV); accept: extra statuses that are not errors
 *   (the health route answers 503 with a full body when a component is down).
 */
export async function api(path, { method = "GET", body, raw = false, accept = [] } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check the network connection.");
  }
  if (response.status === 401 && token) {
    onUnauthorized();
  }
  if (!response.ok && !accept.includes(response.status)) {
    throw new ApiError(response.status, await readDetail(response));
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** Query string from an object, leaving out empty values; arrays repeat the key. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, String(v)));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
