// The dashboard's actions: change the server status, flush a queue, delete a queue. Each one is
// confirmed in a dialog first and then sent to the admin port (PUT /status, DELETE
// /queues/<name>/items, DELETE /queues/<name>), with the admin token as a bearer token when one
// was entered. The token is kept in this tab's sessionStorage only (gone when the tab closes) and
// sent with actions only, never with the read-only requests. What came of an action is reported
// as one line of text; nothing here throws.

const TOKEN_KEY = "kestrel-admin-token";

/** What each status does, for the confirmation. */
const STATUS_MEANING = {
  up: "sets and gets are served",
  writeavoid: "sets and gets are served; clients prefer other servers for sets",
  readonly: "sets are refused, gets still served: the server drains",
  quiescent: "sets and gets are refused",
};

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function saveToken(token) {
  if (token === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/**
 * Sends an action; resolves to { ok, text } where text says what happened. `token` is the admin
 * token entered ("" for none).
 */
async function send(method, path, body, token) {
  const headers = token === "" ? {} : { authorization: `Bearer ${token}` };
  let response;
  try {
    response = await fetch(path, { method, body, headers });
  } catch (error) {
    return { ok: false, text: `the server did not answer (${error.message})` };
  }
  const text = (await response.text()).trim();
  if (response.status === 401) {
    const why = token === "" ? "this server wants its admin token" : "the admin token was refused";
    return { ok: false, text: `${why}: enter admin_token in the field at the top and try again`, needsToken: true };
  }
  return { ok: response.ok, text };
}

/** Asks, then sets the server status to `next`. Resolves to null if the dialog was cancelled. */
export async function changeStatus(current, next, token) {
  if (next === current) return { ok: true, text: `the status is ${current} already` };
  if (!confirm(`Change the server status from ${current} to ${next}?\n\n${next}: ${STATUS_MEANING[next]}.`)) return null;
  const result = await send("PUT", "/status", next, token);
  return result.ok ? { ok: true, text: `status changed to ${result.text}` } : result;
}

/** Asks, then drops every item of queue `name`. */
export async function flushQueue(name, items, token) {
  if (!confirm(`Flush queue '${name}'?\n\nIts ${items} item(s) are dropped for good. Items open in reliable reads are not.`)) return null;
  return send("DELETE", `/queues/${encodeURIComponent(name)}/items`, undefined, token);
}

/** Asks, then deletes queue `name` and its journal. */
export async function deleteQueue(name, items, token) {
  if (!confirm(`Delete queue '${name}'?\n\nThe queue, its ${items} item(s) and its journal files are removed. A client that names it again makes a new, empty queue.`)) {
    return null;
  }
  return send("DELETE", `/queues/${encodeURIComponent(name)}`, undefined, token);
}
