/**
 * Whether a memcache request may run on its connection (access.ts holds the policy): while an
 * auth file is in force, a connection that has not authenticated runs nothing; its first
 * `set <any key> <flags> <exptime> <bytes>` whose data is `<user> <password>` authenticates it
 * (as memcached's text protocol does with `memcached -Y`), anything else is answered
 * `CLIENT_ERROR unauthenticated`, and a failed attempt `CLIENT_ERROR authentication failure`,
 * closing the connection. An administrative command runs only where `admin_commands` admits the
 * peer; a refused one is answered `CLIENT_ERROR <command> is not allowed from <address>` (unless
 * it asked for noreply) and changes nothing.
 */
import { log } from "../../log.ts";
import { admitAdmin, describePeer, isAdminRequest, isAuthenticated, noteRefusal } from "../access.ts";
import type { Session } from "../commands/session.ts";
import type { ServerContext } from "../context.ts";
import { STORED, clientError } from "./replies.ts";
import type { Frame } from "./request_parser.ts";

const UNAUTHENTICATED = clientError("unauthenticated");
const AUTHENTICATION_FAILURE = clientError("authentication failure");

/** A frame that reached the command layer (fatal and binary frames close the connection before it). */
export type CommandFrame = Exclude<Frame, { kind: "fatal" | "binary" }>;

/**
 * Whether `frame` may run for `session`; a frame that may not is answered (and logged) here.
 * Never throws.
 */
export function admit(frame: CommandFrame, session: Session, ctx: ServerContext): boolean {
  if (!isAuthenticated(session, ctx)) {
    authenticate(frame, session, ctx);
    return false;
  }
  if (frame.kind !== "line" || !isAdminRequest(frame.command, frame.args)) return true;
  const request = [frame.command, ...frame.args].join(" ");
  if (admitAdmin(request, frame.command, session.peer, describePeer(session), ctx.config().server.adminCommands)) return true;
  if (frame.args[frame.args.length - 1] !== "noreply") session.outbox.push(clientError(`${frame.command} is not allowed from ${session.peer}`));
  return false;
}

/**
 * Handles a frame from a connection that hasn't authenticated: a `set` is an attempt (its key,
 * flags and exptime are ignored), anything else is refused. A failed attempt closes the
 * connection once the reply is written. A successful one is answered STORED, unless it asked
 * for noreply (pymemcache sends its sets with noreply by default).
 */
function authenticate(frame: CommandFrame, session: Session, ctx: ServerContext): void {
  if (frame.kind !== "set") return session.outbox.push(UNAUTHENTICATED);
  const user = ctx.credentials()?.check(frame.data) ?? null;
  if (user === null) {
    noteRefusal(`auth ${session.peer}`, `authentication failure from ${session.peer}; connection closed`);
    session.outbox.push(AUTHENTICATION_FAILURE);
    return session.quit();
  }
  session.access.user = user;
  log.debug(`${session.peer} authenticated as '${user}'`);
  if (!frame.noreply) session.outbox.push(STORED);
}
