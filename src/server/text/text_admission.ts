/**
 * Whether a text request may run on its connection (access.ts holds the policy). Kestrel's text
 * protocol has no authentication; here, while an auth file is in force, a text connection runs
 * nothing until it has authenticated, the way a memcache one does (memcache/admission.ts, after
 * `memcached -Y`): its first `put <any queue>:` whose one item is `<user> <password>` is the
 * attempt, answered `+1` and stored nowhere. A failed attempt (a wrong password, no item, several)
 * is answered `-Authentication failed.` and closes the connection; any other request but `quit`
 * gets `-Authentication required.`. Administrative commands (`shutdown`, `flush`, `delete`,
 * `status <new>`) run only where `admin_commands` admits the peer, as on the memcache port; a
 * refused one changes nothing and is answered `-<command> is not allowed from <address>`.
 */
import { log } from "../../log.ts";
import { admitAdmin, describePeer, isAdminRequest, isAuthenticated, noteRefusal } from "../access.ts";
import type { Session } from "../commands/session.ts";
import type { ServerContext } from "../context.ts";
import type { TextRequest } from "./text_parser.ts";
import { countReply, errorReply } from "./text_replies.ts";

/** The administrative commands (access.ts) the text protocol has; `reload` and `flush_all` are unknown to it. */
const TEXT_ADMIN_COMMANDS: ReadonlySet<string> = new Set(["shutdown", "flush", "delete", "status"]);

const AUTHENTICATION_REQUIRED = errorReply("Authentication required.");
const AUTHENTICATION_FAILED = errorReply("Authentication failed.");

/** Whether `request` may run for `session`; one that may not is answered (and logged) here. Never throws. */
export function admitText(request: TextRequest, session: Session, ctx: ServerContext): boolean {
  if (!isAuthenticated(session, ctx)) {
    if (request.command === "quit") return true;
    authenticate(request, session, ctx);
    return false;
  }
  if (!TEXT_ADMIN_COMMANDS.has(request.command) || !isAdminRequest(request.command, request.args)) return true;
  const line = [request.command, ...request.args].join(" ");
  if (admitAdmin(line, request.command, session.peer, `${describePeer(session)} (text)`, ctx.config().server.adminCommands)) return true;
  session.outbox.push(errorReply(`${request.command} is not allowed from ${session.peer}`));
  return false;
}

/** Handles a request from a connection that hasn't authenticated: a `put` of one item is an attempt. */
function authenticate(request: TextRequest, session: Session, ctx: ServerContext): void {
  if (request.command !== "put") return session.outbox.push(AUTHENTICATION_REQUIRED);
  const [token] = request.items;
  const user = request.items.length === 1 ? (ctx.credentials()?.check(token!) ?? null) : null;
  if (user === null) {
    noteRefusal(`auth ${session.peer}`, `authentication failure from ${session.peer} (text); connection closed`);
    session.outbox.push(AUTHENTICATION_FAILED);
    return session.quit();
  }
  session.access.user = user;
  log.debug(`${session.peer} authenticated as '${user}' (text)`);
  session.outbox.push(countReply(1));
}
