/* The REST API (/api/v1/) from the pages: the session's CSRF token on every request, JSON in
 * and out, and every failure turned into an ApiError whose message is a sentence for a person
 * (the server's `detail`, DESIGN.md's error shape, or a plain one when there is none).
 */

export const API = "/api/v1";

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export class ApiError extends Error {
  constructor(status, payload) {
    super((payload && payload.detail) || `The server answered ${status}: try again.`);
    this.status = status;
    this.code = payload && payload.code;
    this.fields = (payload && payload.fields) || {};
    // The whole body: a stale write's answer carries the card as it is and `changes`.
    this.payload = payload || {};
  }
}

/** `method` `path` (under /api/v1) with `body` as JSON; the answer's JSON (null for a 204).
 * Throws ApiError: status 0 when the server cannot be reached. */
export async function api(method, path, body) {
  let response;
  try {
    response = await fetch(API + path, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (networkError) {
    throw new ApiError(0, { detail: "The server cannot be reached: check the connection." });
  }
  let payload = null;
  if (response.status !== 204) {
    try {
      payload = await response.json();
    } catch (notJson) {
      payload = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, payload);
  return payload;
}

/** A page's HTML fragment (same origin, the session's cookie): the parsed <template>'s content
 * and the response, or null when it is not there (an error, or a redirect to the login). */
export async function fetchFragment(url, headers = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "text/html", ...headers },
  });
  if (!response.ok || response.redirected) return { response, content: null };
  const template = document.createElement("template");
  template.innerHTML = (await response.text()).trim();
  return { response, content: template.content };
}
