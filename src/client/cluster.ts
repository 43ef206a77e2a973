/**
 * The client's view of the cluster: the server list, each server's status and failures, and the
 * random pick of a server for an operation. No sockets and no clocks here: each server carries an
 * opaque resource (its connection pool, made and retired through `ClusterHooks`), time is an
 * argument, and randomness is injected, so selection, backoff and DNS changes are unit-tested.
 *
 * Rules:
 *   - writes go to a random `up` server; to a `writeavoid` one only when no `up` server is left;
 *     never to `readonly` or `quiescent` ones. Reads go to any server but a `quiescent` one;
 *   - a server that failed (could not connect, broke, timed out) is skipped until its backoff
 *     ends: half to all of min(maxMs, baseMs * 2^(failures-1)), random so that clients spread
 *     their retries; failures seen while it is in backoff (other operations that were under way)
 *     count as the same one; one success clears its failures;
 *   - a server's status is what its `status` command last said ("up" until asked, and for a
 *     server without the command); a SERVER_ERROR refusal sets it to what the refusal implies
 *     (readonly for a write, quiescent for a read) until the next status check says otherwise;
 *   - the list changes only through `setServers`: servers that stay keep their state, servers
 *     that leave have their resource retired. A DNS answer that fails or is empty changes nothing.
 */
import { lookup } from "node:dns/promises";
import type { Endpoint } from "./connection.ts";
import type { ServerStatus } from "./protocol.ts";

export const DEFAULT_PORT = 22133;

export type Access = "read" | "write";

export interface Member<T> {
  readonly endpoint: Endpoint;
  readonly resource: T;
  status: ServerStatus;
  /** Failures in a row. */
  failures: number;
  /** Not picked before this time (ms) while failing. */
  retryAt: number;
  lastError: Error | null;
}

export interface ClusterHooks<T> {
  open(endpoint: Endpoint): T;
  retire(resource: T): void;
}

export interface BackoffSettings {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** How long a server that failed `failures` times in a row is skipped; `random` in [0, 1). */
export function backoffMs(failures: number, settings: BackoffSettings, random: number): number {
  const ceiling = Math.min(settings.maxMs, settings.baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return ceiling / 2 + (random * ceiling) / 2;
}

export function endpoint(host: string, port: number): Endpoint {
  return { host, port, name: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}` };
}

/** `host:port`, `[v6 address]:port`, or a bare host (on `defaultPort`). Throws a TypeError. */
export function parseEndpoint(text: string, defaultPort = DEFAULT_PORT): Endpoint {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d+))?$/.exec(text.trim());
  const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`not a server address: '${text}' (expected host:port)`);
  return endpoint(match[1] ?? match[2]!, port);
}

/** The status a SERVER_ERROR refusal implies: named in its reason, else by what was refused. */
export function statusFromRefusal(reason: string, access: Access): ServerStatus {
  const text = reason.toLowerCase();
  if (text.includes("quiescent")) return "quiescent";
  if (/read[- ]?only/.test(text)) return "readonly";
  return access === "write" ? "readonly" : "quiescent";
}

function admits(status: ServerStatus, access: Access): boolean {
  return access === "read" ? status !== "quiescent" : status === "up" || status === "writeavoid";
}

export class Cluster<T> {
  private readonly members = new Map<string, Member<T>>();

  constructor(
    private readonly hooks: ClusterHooks<T>,
    private readonly backoff: BackoffSettings,
    private readonly random: () => number = Math.random,
  ) {}

  list(): Member<T>[] {
    return [...this.members.values()];
  }

  /** Makes the list exactly `endpoints` (deduplicated by name). */
  setServers(endpoints: readonly Endpoint[]): void {
    const wanted = new Map(endpoints.map((server) => [server.name, server]));
    for (const [name, member] of this.members) {
      if (wanted.has(name)) continue;
      this.members.delete(name);
      this.hooks.retire(member.resource);
    }
    for (const [name, server] of wanted) {
      if (this.members.has(name)) continue;
      this.members.set(name, { endpoint: server, resource: this.hooks.open(server), status: "up", failures: 0, retryAt: 0, lastError: null });
    }
  }

  /**
   * The servers `access` may go to at `now`, in random order, those in `exclude` left out. For
   * writes: the `up` ones, or the `writeavoid` ones when no `up` one is left.
   */
  eligible(access: Access, now: number, exclude: ReadonlySet<string> = new Set()): Member<T>[] {
    const candidates = this.list().filter((member) => member.retryAt <= now && !exclude.has(member.endpoint.name) && admits(member.status, access));
    const preferred = access === "write" ? candidates.filter((member) => member.status === "up") : candidates;
    return this.shuffle(preferred.length > 0 ? preferred : candidates);
  }

  pick(access: Access, now: number, exclude?: ReadonlySet<string>): Member<T> | null {
    return this.eligible(access, now, exclude)[0] ?? null;
  }

  /** Counts a failure, unless the server is in backoff already (operations in flight then see the same outage). */
  failed(member: Member<T>, error: Error, now: number): void {
    member.lastError = error;
    if (member.retryAt > now) return;
    member.failures++;
    member.retryAt = now + backoffMs(member.failures, this.backoff, this.random());
  }

  succeeded(member: Member<T>): void {
    member.failures = 0;
    member.retryAt = 0;
  }

  learnStatus(member: Member<T>, status: ServerStatus): void {
    member.status = status;
  }

  refused(member: Member<T>, access: Access, reason: string): void {
    member.status = statusFromRefusal(reason, access);
  }

  /** When the first server now in backoff may be tried again, or null if none is. */
  nextRetryAt(now: number): number | null {
    const waits = this.list().filter((member) => member.retryAt > now).map((member) => member.retryAt);
    return waits.length === 0 ? null : Math.min(...waits);
  }

  private shuffle(members: Member<T>[]): Member<T>[] {
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    return members;
  }
}

/** The addresses (A and AAAA) a name resolves to. Throws when it resolves to nothing. */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

export const systemResolver: Resolver = async (hostname) => (await lookup(hostname, { all: true })).map((entry) => entry.address);

/**
 * Sets the cluster's servers to what `hostname` resolves to now, all on `port`. Keeps the current
 * list when resolution fails or finds nothing (a DNS hiccup must not empty the cluster); returns
 * the error in that case, else null.
 */
export async function refreshFromDns<T>(cluster: Cluster<T>, hostname: string, port: number, resolve: Resolver): Promise<Error | null> {
  let addresses: readonly string[];
  try {
    addresses = await resolve(hostname);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  if (addresses.length === 0) return new Error(`${hostname} resolves to no address`);
  cluster.setServers(addresses.map((address) => endpoint(address, port)));
  return null;
}
