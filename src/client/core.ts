/**
 * What the client's operations share: the cluster of server pools, the settings, and the few
 * rules every operation follows when an exchange with a server goes wrong.
 *
 * Invariants: an operation started after `close()` fails with ClientClosedError, as does one
 * whose connection the close broke; an abort (consume's signal) is never retried; a transport
 * failure (connect, broken connection, timeout, garbled reply) puts the server into backoff; a
 * `SERVER_ERROR` changes the server's status, not its health; ERROR/CLIENT_ERROR is the caller's
 * problem and goes straight back to them.
 */
import type { BackoffSettings, Cluster, Member } from "./cluster.ts";
import { AbortedError, ClientClosedError, ConnectionError, KestrelError, NoServerError, ProtocolError, RequestError, ServerRefusedError, TimeoutError } from "./errors.ts";
import type { ServerPool } from "./pool.ts";
import type { Reply } from "./protocol.ts";

export interface Settings {
  readonly connectTimeoutMs: number;
  /** How long a reply may take, on top of the wait a blocking get asks for. */
  readonly requestTimeoutMs: number;
  /** How long `put` keeps trying other servers before it gives up with NoServerError. */
  readonly retryForMs: number;
  /** The wait of one blocking read while `get`/`open` visit several servers in turn. */
  readonly pollSliceMs: number;
  readonly statusIntervalMs: number;
  readonly dnsRefreshMs: number;
  readonly maxIdleConnections: number;
  readonly backoff: BackoffSettings;
}

export type PoolMember = Member<ServerPool>;

export interface ClientCore {
  readonly cluster: Cluster<ServerPool>;
  readonly settings: Settings;
  /** Resolves once the server list is known (at once for a fixed list, after the first DNS answer). */
  readonly ready: Promise<void>;
  closed: boolean;
  /** Why the last look-up of the server list failed (the DNS name's), or null after a good one. */
  discoveryError: Error | null;
}

/**
 * No server took an operation: names the last server's failure, or, with none (no server listed,
 * say), why the server list could not be found; that error is the cause.
 */
export function noServerError(core: ClientCore, message: string, lastError: KestrelError | null): NoServerError {
  const cause = lastError ?? core.discoveryError;
  const why = lastError !== null ? `; last: ${lastError.message}` : cause !== null ? `; finding the servers: ${cause.message}` : "";
  return new NoServerError(null, `${message}${why}`, { cause });
}

/** Waits `ms` (at least 1), or less if `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(1, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Waits until a server may be eligible again (a backoff ends), `deadline` at the latest. */
export function waitForServers(core: ClientCore, deadline: number, signal?: AbortSignal): Promise<void> {
  const now = Date.now();
  const retryAt = core.cluster.nextRetryAt(now) ?? now + core.settings.pollSliceMs;
  return sleep(Math.min(retryAt, deadline) - now, signal);
}

export function throwIfClosed(core: ClientCore): void {
  if (core.closed) throw new ClientClosedError();
}

/**
 * Handles an exchange with `member` that threw: rethrows what ends the operation (close, abort,
 * anything not from the client), else puts the server into backoff and returns the error.
 */
export function transportFailure(core: ClientCore, member: PoolMember, error: unknown): KestrelError {
  throwIfClosed(core);
  if (error instanceof AbortedError) throw error;
  if (!(error instanceof ConnectionError || error instanceof TimeoutError || error instanceof ProtocolError)) throw error;
  core.cluster.failed(member, error, Date.now());
  return error;
}

/**
 * An error reply from `member`: a SERVER_ERROR refusal marks its status and is returned for the
 * caller to try elsewhere; ERROR and CLIENT_ERROR are thrown.
 */
export function refusal(core: ClientCore, member: PoolMember, reply: Reply & { kind: "error" }, access: "read" | "write"): ServerRefusedError {
  const server = member.endpoint.name;
  if (!reply.line.startsWith("SERVER_ERROR")) throw new RequestError(server, `request refused: ${reply.line}`);
  const reason = reply.line.slice("SERVER_ERROR".length).trim();
  core.cluster.refused(member, access, reason);
  return new ServerRefusedError(server, reason);
}
