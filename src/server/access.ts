/**
 * Who may do what on a connection: the administrative commands a peer may run
 * (`admin_commands`).
 *
 * Invariants: an administrative command runs only if the policy in force admits the peer's
 * address; every one that runs is logged at info with the peer's address before it runs; a
 * refused one changes nothing, is logged, and is answered `CLIENT_ERROR <command> is not allowed
 * from <address>` (unless it asked for noreply). The policy is read at every command, so a reload
 * takes effect at once on every connection.
 */
import { isIPv4, isIPv6 } from "node:net";
import { log } from "../log.ts";
import type { ServerContext, Session } from "./context.ts";
import { clientError } from "./replies.ts";
import type { Frame } from "./request_parser.ts";

/**
 * Commands that stop the server, change its config or drop items for everyone: gated by
 * `admin_commands`. `status` is gated by name before it exists, so it is covered when it comes.
 */
export const ADMIN_COMMANDS: ReadonlySet<string> = new Set(["shutdown", "reload", "delete", "flush", "flush_all", "status"]);

/** What access control remembers about one connection. */
export interface AccessState {
  /** Refusals so far: only the first is logged at warn, so a client can't flood the log. */
  refusals: number;
}

export function newAccessState(): AccessState {
  return { refusals: 0 };
}

/** A frame that reached the command layer (fatal frames close the connection before it). */
export type CommandFrame = Exclude<Frame, { kind: "fatal" }>;

/**
 * Whether `frame` may run for `session`; a frame that may not is answered (and logged) here.
 * Never throws.
 */
export function admit(frame: CommandFrame, session: Session, ctx: ServerContext): boolean {
  if (frame.kind !== "line" || !ADMIN_COMMANDS.has(frame.command)) return true;
  const request = printable([frame.command, ...frame.args].join(" "));
  const policy = ctx.config().server.adminCommands;
  if (policy === "all" || (policy === "loopback" && isLoopbackAddress(session.peer))) {
    log.info(`admin command '${request}' from ${session.peer}`);
    return true;
  }
  const level = session.access.refusals++ === 0 ? "warn" : "debug";
  log[level](`refused admin command '${request}' from ${session.peer} (admin_commands = "${policy}")`);
  if (frame.args[frame.args.length - 1] !== "noreply") session.outbox.push(clientError(`${frame.command} is not allowed from ${session.peer}`));
  return false;
}

/**
 * Whether `address` is a loopback address: 127.0.0.0/8 or ::1, in any spelling, including an
 * IPv4 loopback address mapped into IPv6 (`::ffff:127.0.0.1`, as a dual-stack listener reports
 * it); also the name `localhost`. Anything else, including a name, is not.
 */
export function isLoopbackAddress(address: string): boolean {
  if (address === "localhost") return true;
  if (isIPv4(address)) return address.startsWith("127.");
  if (!isIPv6(address)) return false;
  let canonical: string;
  try {
    canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return false; // a zone id (fe80::1%eth0): link-local, not loopback
  }
  if (canonical === "::1") return true;
  const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(canonical);
  return mapped !== null && parseInt(mapped[1]!, 16) >> 8 === 127;
}

/** `text` safe for one log line: control and non-ASCII characters as \xNN, at most 200 of them. */
function printable(text: string): string {
  const shown = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return shown.replace(/[^\x20-\x7e]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
