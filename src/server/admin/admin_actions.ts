/**
 * The admin HTTP requests that change something: `PUT /status` (the server status, as the
 * memcache `status <new>`), `DELETE /queues/<name>/items` (flush the queue, as `flush <name>`) and
 * `DELETE /queues/<name>` (delete it and its journal, as `delete <name>`).
 *
 * Invariants: a request runs only after passing, in order, (1) the same-origin check: a request a
 * browser sends with an Origin of another site is refused (403), so a web page elsewhere can't
 * act through an operator's browser; (2) admission (access.ts): the admin token while
 * `admin_token` is set (else, with an auth file, one of its users), then `admin_commands` for the
 * peer's address; every admission is logged. A refused request changes nothing. The methods are
 * ones browsers never send across sites without asking first (PUT, DELETE), and no CORS answer is
 * given. Answers are one line of text: 200 once done, 400/404 for a bad body (or one that could
 * not be read: the client closed mid-body, or sent more than the 1 KiB taken) or name, 401/403 when
 * refused, 500 when the change could not be made (nothing changed).
 */
import { SERVER_STATUSES } from "../../config/schema.ts";
import { errorText } from "../../errors.ts";
import type { Commit } from "../../journal/commit.ts";
import { isValidQueueName } from "../../queue_name.ts";
import { admitHttpAdmin, printable } from "../access.ts";
import type { ServerContext } from "../context.ts";
import { parseStatus } from "../status.ts";

/** The part of a PUT /status body that is read: a status name and some whitespace fit. */
const MAX_STATUS_BODY_BYTES = 64;

/** An action, once the request was found to name one: answers the request. */
type Action = (request: Request, peer: string, ctx: ServerContext) => Promise<Response>;

/** The action `method path` names, or null if it names none. */
export function findAction(method: string, path: string): Action | null {
  if (path === "/status") return method === "PUT" ? putStatus : null;
  const queue = queuePath(path);
  if (queue === null || method !== "DELETE") return null;
  const name = queue.name;
  if (name === null) return async () => text(400, `bad percent-encoding in ${path}`);
  return queue.items ? (request, peer, ctx) => flushQueue(name, request, peer, ctx) : (request, peer, ctx) => deleteQueue(name, request, peer, ctx);
}

/** The methods that `path` takes besides GET, as an Allow header lists them; null for GET only. */
export function actionMethods(path: string): string | null {
  if (path === "/status") return "GET, PUT";
  return queuePath(path) === null ? null : "DELETE";
}

/**
 * `/queues/<name>` or `/queues/<name>/items`, with the name percent-decoded (null if its
 * percent-encoding is broken); null for other paths.
 */
function queuePath(path: string): { name: string | null; items: boolean } | null {
  const match = /^\/queues\/([^/]+)(\/items)?$/.exec(path);
  if (match === null) return null;
  let name: string | null;
  try {
    name = decodeURIComponent(match[1]!);
  } catch {
    name = null;
  }
  return { name, items: match[2] !== undefined };
}

/** PUT /status: the body names the new status (any case); answers the status in force after it. */
async function putStatus(request: Request, peer: string, ctx: ServerContext): Promise<Response> {
  let body: string;
  try {
    body = (await request.text()).slice(0, MAX_STATUS_BODY_BYTES);
  } catch (error) {
    // The client's doing, not a bug: it closed mid-body, or sent more than admin_http.ts takes (Bun answered 413).
    return text(400, `could not read the request body: ${errorText(error)}`);
  }
  // Admission first, as on the memcache port: a peer that may not change the status learns nothing more.
  const refusal = refuse(`PUT /status ${body.trim()}`, request, peer, ctx);
  if (refusal !== null) return refusal;
  const next = parseStatus(body);
  if (next === null) return text(400, `unknown status ${JSON.stringify(body)}: expected one of ${SERVER_STATUSES.join(", ")}`);
  const error = ctx.status.change(next, `${peer} (admin HTTP)`);
  return error === null ? text(200, next) : text(500, error);
}

async function flushQueue(name: string, request: Request, peer: string, ctx: ServerContext): Promise<Response> {
  const refusal = refuse(`DELETE /queues/${name}/items`, request, peer, ctx) ?? unknownQueue(name, ctx);
  if (refusal !== null) return refusal;
  // Answered once the queue's new journal state is written (off the event loop).
  const flushed = ctx.queues.get(name)!.flush();
  await settled(flushed);
  return flushed.state === "durable" ? text(200, `flushed queue '${name}'`) : text(500, flushed.error);
}

/** Resolves once `commit` has settled, whichever way. */
function settled(commit: Commit): Promise<void> {
  return new Promise((resolve) => commit.onSettled(resolve));
}

async function deleteQueue(name: string, request: Request, peer: string, ctx: ServerContext): Promise<Response> {
  const refusal = refuse(`DELETE /queues/${name}`, request, peer, ctx) ?? unknownQueue(name, ctx);
  if (refusal !== null) return refusal;
  // Answered once nothing of the queue can come back (its journal's files are retired off the event loop).
  const gone = ctx.queues.delete(name);
  await settled(gone);
  return text(200, `deleted queue '${name}'`);
}

/** The answer refusing `request` (described as `what` in the log), or null if it may run. */
function refuse(what: string, request: Request, peer: string, ctx: ServerContext): Response | null {
  if (!isSameOrigin(request)) return text(403, "refused: the request comes from a page of another site (Origin)");
  switch (admitHttpAdmin(what, peer, request.headers.get("authorization"), ctx)) {
    case "allowed":
      return null;
    case "no-token":
      return text(401, "the admin token is required: Authorization: Bearer <admin_token>", { "www-authenticate": 'Bearer realm="kestrel"' });
    case "unauthenticated":
      return text(401, "authentication required: a user of the auth file, with HTTP Basic", { "www-authenticate": 'Basic realm="kestrel"' });
    case "forbidden":
      return text(403, `${printable(what.split(" ").slice(0, 2).join(" "))} is not allowed from ${peer} (admin_commands = "${ctx.config().server.adminCommands}")`);
  }
}

function unknownQueue(name: string, ctx: ServerContext): Response | null {
  if (!isValidQueueName(name)) return text(400, `bad queue name ${JSON.stringify(name)}`);
  return ctx.queues.get(name) === undefined ? text(404, `no queue '${name}'`) : null;
}

/** A request with no Origin (curl, kestrel drain) or with this server's own (the dashboard). */
function isSameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  try {
    return new URL(origin).host === request.headers.get("host");
  } catch {
    return false; // "null" (a sandboxed or file: page) or garbage
  }
}

export function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(`${body}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}
