/**
 * The Kestrel cluster client, `kestrel-bun/client`: no dependencies, runs on Bun and on Node >= 20
 * (node:net and node:dns only). It stands alone: nothing here imports the server, queue or
 * journal code.
 *
 *   const c = new KestrelClient({ servers: ["10.0.0.1:22133", "10.0.0.2:22133"] });
 *   // or { dns: "kestrel.default.svc.cluster.local", port: 22133 }: re-resolved periodically
 *   await c.put(queue, data, { expiresInMs });        // after STORED; at-least-once
 *   await c.get(queue, { timeoutMs });                // Uint8Array | null
 *   const item = await c.open(queue, { timeoutMs });  // null | { data, server, close(), abort() }
 *   await c.consume(queue, async (data) => {...}, { concurrency, signal });
 *   await c.close();
 *
 * Each operation goes to a random eligible server (see cluster.ts); put.ts, reads.ts,
 * open_item.ts and consume.ts say what each promises. `close()` ends everything: background
 * checks stop, every connection closes (open items go back to their servers), and operations
 * under way fail with ClientClosedError.
 */
import { Cluster, DEFAULT_PORT, parseEndpoint, type Resolver, systemResolver } from "./cluster.ts";
import { consumeQueue, type ConsumeOptions, type Handler } from "./consume.ts";
import type { ClientCore, Settings } from "./core.ts";
import { Monitor } from "./monitor.ts";
import type { OpenItem } from "./open_item.ts";
import { ServerPool } from "./pool.ts";
import { checkQueueName, itemBytes, type ServerStatus } from "./protocol.ts";
import { putItem } from "./put.ts";
import { findItem, openItem } from "./reads.ts";

export * from "./errors.ts";
export type { ConsumeOptions, Handler } from "./consume.ts";
export type { OpenItem } from "./open_item.ts";
export type { Resolver } from "./cluster.ts";
export type { ServerStatus } from "./protocol.ts";

export const DEFAULT_SETTINGS: Settings = {
  connectTimeoutMs: 2000,
  requestTimeoutMs: 5000,
  retryForMs: 30_000,
  pollSliceMs: 100,
  statusIntervalMs: 1000,
  dnsRefreshMs: 5000,
  maxIdleConnections: 16,
  backoff: { baseMs: 100, maxMs: 5000 },
};

export interface KestrelClientOptions extends Partial<Settings> {
  /** `host:port` of each server (port 22133 when left out). Give this or `dns`. */
  readonly servers?: readonly string[];
  /** A name whose A/AAAA records are the servers (a Kubernetes headless Service). */
  readonly dns?: string;
  /** The servers' port with `dns` (22133 unless given). */
  readonly port?: number;
  /** Replaces the system resolver for `dns` (tests, custom discovery). */
  readonly resolver?: Resolver;
  /** Replaces Math.random for the server picks and backoff jitter. */
  readonly random?: () => number;
}

export interface PutOptions {
  /** The item expires this long after the put (whole seconds, rounded up); never if absent. */
  readonly expiresInMs?: number;
}

export interface ReadOptions {
  /** Wait up to this long for an item, visiting every server; 0 (the default): ask each once. */
  readonly timeoutMs?: number;
}

/** A server as the client sees it now. */
export interface ServerView {
  readonly server: string;
  readonly status: ServerStatus;
  /** Failures in a row; the server is skipped until `retryAt` (ms since the epoch) when > 0. */
  readonly failures: number;
  readonly retryAt: number;
  readonly lastError: string | null;
}

export class KestrelClient {
  private readonly core: ClientCore;
  private readonly monitor: Monitor;

  constructor(options: KestrelClientOptions) {
    const settings = settingsFrom(options);
    const cluster = new Cluster<ServerPool>(
      { open: (endpoint) => new ServerPool(endpoint, { connectTimeoutMs: settings.connectTimeoutMs, maxIdle: settings.maxIdleConnections }), retire: (pool) => pool.retire() },
      settings.backoff,
      options.random,
    );
    if ((options.servers === undefined) === (options.dns === undefined)) throw new TypeError("KestrelClient needs either `servers` or `dns`");
    if (options.servers?.length === 0) throw new TypeError("KestrelClient needs at least one server");
    const dns = options.dns === undefined ? null : { hostname: options.dns, port: options.port ?? DEFAULT_PORT, resolve: options.resolver ?? systemResolver };
    if (options.servers !== undefined) cluster.setServers(options.servers.map((server) => parseEndpoint(server)));
    const core: { -readonly [K in keyof ClientCore]: ClientCore[K] } = { cluster, settings, ready: Promise.resolve(), closed: false, discoveryError: null };
    this.monitor = new Monitor(core, dns);
    core.ready = dns === null ? Promise.resolve() : this.monitor.refreshDns();
    this.core = core;
    this.monitor.start();
    void core.ready.then(() => this.monitor.checkStatuses());
  }

  /** Adds an item to `queue` on one server; resolves once that server answered STORED. */
  async put(queue: string, data: string | Uint8Array, options: PutOptions = {}): Promise<void> {
    checkQueueName(queue);
    await putItem(this.core, queue, itemBytes(data), options.expiresInMs);
  }

  /** Takes an item off `queue` (from any server), or null when none came within `timeoutMs`. */
  async get(queue: string, options: ReadOptions = {}): Promise<Uint8Array | null> {
    checkQueueName(queue);
    return (await findItem(this.core, queue, false, options.timeoutMs))?.data ?? null;
  }

  /** Opens an item of `queue` (a reliable read): confirm it with `close()`, give it back with `abort()`. */
  open(queue: string, options: ReadOptions = {}): Promise<OpenItem | null> {
    checkQueueName(queue);
    return openItem(this.core, queue, options.timeoutMs);
  }

  /** Hands items of `queue` to `handler` until `signal` aborts or the client closes (see consume.ts). */
  consume(queue: string, handler: Handler, options: ConsumeOptions = {}): Promise<void> {
    checkQueueName(queue);
    return consumeQueue(this.core, queue, handler, options);
  }

  servers(): ServerView[] {
    return this.core.cluster.list().map((member) => ({
      server: member.endpoint.name,
      status: member.status,
      failures: member.failures,
      retryAt: member.retryAt,
      lastError: member.lastError?.message ?? null,
    }));
  }

  /** Re-reads every server's status now (the client does so every `statusIntervalMs` anyway). */
  refreshStatus(): Promise<void> {
    return this.monitor.checkStatuses(true);
  }

  /** Resolves the DNS name again now (it is every `dnsRefreshMs` anyway); nothing for a fixed list. */
  refreshServers(): Promise<void> {
    return this.monitor.refreshDns();
  }

  async close(): Promise<void> {
    if (this.core.closed) return;
    this.core.closed = true;
    this.monitor.stop();
    for (const member of this.core.cluster.list()) member.resource.closeAll();
  }
}

/** The defaults, with what `options` sets instead. */
function settingsFrom(options: KestrelClientOptions): Settings {
  const settings: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS)) {
    const value = options[key as keyof Settings];
    if (value !== undefined) settings[key] = value;
  }
  return settings as unknown as Settings;
}
