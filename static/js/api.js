/* The REST API client. Every request goes through api(), and every failure, a lost network
 * included, comes out as one ApiFailure carrying the server's {"error": {message, field, code}}:
 * a caller has one error path. */

const SESSION_CODES = ["not_authenticated", "permission_denied", "authentication_failed"];

export class ApiFailure extends Error {
  constructor(status, error) {
    super((error && error.message) || (status ? `The server answered ${status}.` : "Network problem: Parley could not be reached."));
    this.status = status; // 0: no answer at all
    this.code = (error && error.code) || (status ? "" : "network");
    this.field = (error && error.field) || null;
  }

  /** The session is over (expired, signed out elsewhere, no longer an agent): only signing in again helps. */
  get signedOut() {
    return this.status === 401 || (this.status === 403 && SESSION_CODES.includes(this.code));
  }

  /** Worth repeating unchanged: no answer, a server error, or too many requests. Anything else is a refusal. */
  get retryable() {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
}

const signedOutListeners = [];

/** Call `listener` once a request finds the session over. */
export function onSignedOut(listener) {
  signedOutListeners.push(listener);
}

function csrfToken() {
  const input = document.querySelector(".logout-form input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export async function api(method, url, body, headers) {
  const options = { method, credentials: "same-origin", headers: Object.assign({ Accept: "application/json" }, headers) };
  if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    throw new ApiFailure(0, null);
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const failure = new ApiFailure(response.status, data && data.error);
    if (failure.signedOut) for (const listener of signedOutListeners) listener();
    throw failure;
  }
  return data;
}
