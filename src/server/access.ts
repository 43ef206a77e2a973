/**
 * Who may do what on a connection: authentication against the auth file (`auth_file`; the
 * memcache front end takes the credentials the way memcached's text protocol does,
 * memcache/admission.ts), and the administrative commands a peer may run (`admin_commands`).
 *
 * Invariants: while an auth file is in force, a connection runs nothing until it has
 * authenticated, with a first `set <any key> <flags> <exptime> <bytes>` whose data is
 * `<user> <password>`, as a user the file (as last read) still lists; everything else gets
 * `CLIENT_ERROR unauthenticated`, and a failed attempt is answered
 * `CLIENT_ERROR authentication failure` and closes the connection. Until then its requests are
 * held to MAX_AUTH_REQUEST_BYTES, so a stranger can't make the server buffer a large `set`.
 * An administrative command runs only if the policy in force admits the peer's address; every
 * one that runs is logged at info with the peer's address before it runs; a refused one changes
 * nothing, is logged (repeats counted, not repeated), and is answered
 * `CLIENT_ERROR <command> is not allowed from <address>` (unless it asked for noreply). Both are
 * checked at every command, so a reload (a new policy, an auth file added, a user removed) takes
 * effect at once on every connection. Reading the status (`status` alone) is not administrative;
 * changing it is. The admin HTTP port's actions (PUT /status, flushing or deleting a queue) pass
 * the same policy, and must also carry the admin token (`admin_token`) as a bearer token while one
 * is set, or else, while an auth file is in force, name one of its users with HTTP Basic. The
 * token is compared in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import type { AdminCommandPolicy } from "../config/schema.ts";
import { log } from "../log.ts";
import { RepeatedLog } from "../repeated_log.ts";
import type { Session } from "./commands/session.ts";
import type { ServerContext } from "./context.ts";

/**
 * Commands that stop the server, change its config or status, or drop items for everyone: gated by
 * `admin_commands` (see `isAdminRequest`: reading the status is not administrative).
 */
export const ADMIN_COMMANDS: ReadonlySet<string> = new Set(["shutdown", "reload", "delete", "flush", "flush_all", "status"]);

/**
 * Whether a command line is administrative. `status` alone only reads the status, which every
 * client needs to pick a server (as `stats` shows it to all); `status <new>` changes it.
 */
export function isAdminRequest(command: string, args: readonly string[]): boolean {
  return ADMIN_COMMANDS.has(command) && !(command === "status" && args.length === 0);
}

/**
 * The largest request a connection may send before it has authenticated: the `set` that carries
 * `<user> <password>` (memcached's limit for the same token).
 */
export const MAX_AUTH_REQUEST_BYTES = 16384;

/**
 * Refusals and failed logins, at warn: the first from each address (and command) is written,
 * repeats are counted every 10 s, so a client retrying in a loop can't flood the log.
 */
const refusals = new RepeatedLog();

/** Logs a refusal of `key` (an address and what it was refused) unless one was logged in the current interval. */
export function noteRefusal(key: string, message: string): void {
  refusals.note(key, message);
}

/** Writes the repeats of refusals and failed logins not yet reported; the server calls it at its stop. */
export function reportRefusals(): void {
  refusals.report();
}

/** What access control remembers about one connection. */
export interface AccessState {
  /** The user this connection authenticated as, or null. */
  user: string | null;
}

export function newAccessState(): AccessState {
  return { user: null };
}

/** Whether `session` may run commands: no auth file is in force, or it still lists the session's user. */
export function isAuthenticated(session: Session, ctx: ServerContext): boolean {
  const credentials = ctx.credentials();
  return credentials === null || (session.access.user !== null && credentials.has(session.access.user));
}

/** The largest request `session` may send next: `maxRequestSize` once it has authenticated. */
export function maxRequestSizeFor(session: Session, ctx: ServerContext, maxRequestSize: number): number {
  return isAuthenticated(session, ctx) ? maxRequestSize : Math.min(maxRequestSize, MAX_AUTH_REQUEST_BYTES);
}

/**
 * Whether `policy` lets `peer` (an address) run the administrative `request` (whose first word
 * is `command`); logs it either way, naming the peer as `who`. Used by the memcache port and the
 * admin HTTP port alike. Never throws.
 */
export function admitAdmin(request: string, command: string, peer: string, who: string, policy: AdminCommandPolicy): boolean {
  const shown = printable(request);
  if (policy === "all" || (policy === "loopback" && isLoopbackAddress(peer))) {
    log.info(`admin command '${shown}' from ${who}`);
    return true;
  }
  refusals.note(`admin ${peer} ${command}`, `refused admin command '${shown}' from ${who} (admin_commands = "${policy}")`);
  return false;
}

/**
 * What an administrative request on the admin HTTP port may do: run, or why not (no admin token
 * or a wrong one; no user of the auth file; an address admin_commands refuses).
 */
export type HttpAdmission = "allowed" | "no-token" | "unauthenticated" | "forbidden";

/**
 * Whether an administrative request on the admin HTTP port (`request`, e.g. `PUT /status
 * readonly`) from `peer` may run: `admin_commands` must admit the peer, as on the memcache port;
 * while `admin_token` is set the request must carry it (`Authorization: Bearer <token>`), and
 * otherwise, while an auth file is in force, name a user of it with HTTP Basic, as a memcache
 * client must authenticate first (`authorization` is the Authorization header). Logged as the
 * memcache commands are. Never throws.
 */
export function admitHttpAdmin(request: string, peer: string, authorization: string | null, ctx: ServerContext): HttpAdmission {
  const token = ctx.config().server.adminToken;
  const credentials = ctx.credentials();
  let who = `${peer} (admin HTTP)`;
  if (token !== null) {
    if (!bearerTokenMatches(authorization, token)) {
      refusals.note(`token http ${peer}`, `admin token missing or wrong from ${who}`);
      return "no-token";
    }
    who = `${peer} (admin HTTP, token)`;
  } else if (credentials !== null) {
    const user = credentials.check(basicToken(authorization));
    if (user === null) {
      refusals.note(`auth http ${peer}`, `authentication failure from ${who}`);
      return "unauthenticated";
    }
    who = `${peer} (admin HTTP, user '${user}')`;
  }
  const command = request.split(" ").slice(0, 2).join(" ");
  return admitAdmin(request, command, peer, who, ctx.config().server.adminCommands) ? "allowed" : "forbidden";
}

/**
 * Whether the Authorization header is `Bearer <token>`. The comparison takes the same time
 * whatever was given: both sides are hashed to 32 bytes and compared with timingSafeEqual, so
 * neither the token's length nor how much of it a guess got right shows in the timing.
 */
function bearerTokenMatches(authorization: string | null, token: string): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1] ?? "";
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** HTTP Basic credentials (`Basic base64(user:password)`) as an auth token `<user> <password>`; empty if absent. */
function basicToken(authorization: string | null): Uint8Array {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? "");
  if (match === null) return new Uint8Array(0);
  const decoded = Buffer.from(match[1]!, "base64");
  const colon = decoded.indexOf(0x3a);
  if (colon <= 0) return new Uint8Array(0);
  decoded[colon] = 0x20;
  return decoded;
}

/**
 * The warning for a server listening on `host` with no auth file, if that lets other machines in;
 * null otherwise. (Redis refuses them outright in that case, its protected mode; here the
 * operator chose the address, so it is said, not overruled.)
 */
export function exposureWarning(host: string, port: number, hasAuthFile: boolean): string | null {
  if (hasAuthFile || isLoopbackAddress(host)) return null;
  return `listening on ${host} with no auth_file: anyone who can reach port ${port} can read, take and add items on every queue (docs/security.md)`;
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

/** The peer's address, and its user if it authenticated as one. */
export function describePeer(session: Session): string {
  return session.access.user === null ? session.peer : `${session.peer} (user '${session.access.user}')`;
}

/** `text` safe for one log line (or a reply): control and non-ASCII characters as \xNN, at most 200 of them. */
export function printable(text: string): string {
  const shown = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return shown.replace(/[^\x20-\x7e]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
