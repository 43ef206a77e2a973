/**
 * The benchmark's clients: closed-loop load connections that record what they see into a `Run`,
 * and short-lived control exchanges (`stats`, `flush`) with a server.
 *
 * A load client keeps one request in flight and sends the next as soon as the reply is complete;
 * each reply is classified by `ReplyParser`, timed, and counted. Anything unexpected (a bad
 * reply, a reply nobody asked for, a dropped connection, a stall) becomes a problem of the run.
 */
import type { Socket } from "bun";
import { statsFromLines } from "../../src/client/protocol.ts";
import { HOST, ReplyParser, type ReplyKind } from "./protocol.ts";
import { SocketWriter } from "./socket_writer.ts";

/** A request unanswered for this long is reported as a stall. */
export const STALL_MS = 1000;
/** How long a control exchange may take. */
const EXCHANGE_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Latency samples

export class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  /** How many samples are greater than `limit`. */
  countOver(limit: number): number {
    let count = 0;
    for (let i = 0; i < this.length; i++) if (this.data[i]! > limit) count++;
    return count;
  }

  /** Nearest-rank percentiles (0 < p <= 1), NaN when empty. */
  percentiles(ps: readonly number[]): number[] {
    const sorted = this.data.slice(0, this.length).sort();
    return ps.map((p) => (this.length === 0 ? NaN : sorted[Math.max(0, Math.ceil(p * this.length) - 1)]!));
  }
}

// ---------------------------------------------------------------------------------------------
// One run's bookkeeping, shared by its clients

type Role = "set" | "get";
type Phase = "warmup" | "measure" | "drain";

export class Run {
  phase: Phase = "warmup";
  readonly setLatency = new Samples();
  readonly getLatency = new Samples();
  hits = 0;
  /** Replies over the whole run (warm-up and drain too), to check against the server's counters. */
  readonly all = { sets: 0, hits: 0, misses: 0 };
  /** Problem description -> how many times. */
  readonly problems = new Map<string, number>();

  get sending(): boolean {
    return this.phase !== "drain";
  }

  record(role: Role, kind: ReplyKind, ms: number, detail: string): void {
    const measuring = this.phase === "measure";
    if (role === "set" && kind === "stored") {
      this.all.sets++;
      if (measuring) this.setLatency.push(ms);
    } else if (role === "get" && (kind === "hit" || kind === "miss")) {
      if (kind === "hit") this.all.hits++;
      else this.all.misses++;
      if (!measuring) return;
      this.getLatency.push(ms);
      if (kind === "hit") this.hits++;
    } else {
      this.problem(`${role} answered ${kind}${detail === "" ? "" : `: ${detail}`}`);
    }
  }

  problem(description: string): void {
    if (this.problems.size >= 20 && !this.problems.has(description)) description = "(other problems)";
    this.problems.set(description, (this.problems.get(description) ?? 0) + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// A closed-loop client: one request in flight, the next one sent as soon as the reply is complete

export class LoadClient {
  socket: Socket<LoadClient> | null = null;
  busy = false;
  closed = false;
  sentAt = 0;
  stallReported = false;
  writer: SocketWriter | null = null;
  private readonly parser: ReplyParser;

  constructor(
    readonly role: Role,
    private readonly request: Uint8Array,
    valueBlock: Uint8Array,
    private readonly run: Run,
  ) {
    this.parser = new ReplyParser(valueBlock, (kind, detail) => this.onReply(kind, detail));
  }

  send(): void {
    if (this.closed) return;
    this.busy = true;
    this.stallReported = false;
    this.sentAt = performance.now();
    this.writer!.write(this.request);
  }

  onData(chunk: Uint8Array): void {
    this.parser.feed(chunk);
  }

  onClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.run.sending || this.busy) this.run.problem(`${this.role} connection closed by the server${error ? ` (${error.message})` : ""}`);
    this.busy = false;
  }

  private onReply(kind: ReplyKind, detail: string): void {
    const now = performance.now();
    if (!this.busy) return this.run.problem(`${this.role} connection got a reply it did not ask for (${kind}${detail ? `: ${detail}` : ""})`);
    this.busy = false;
    this.run.record(this.role, kind, now - this.sentAt, detail);
    if (this.run.sending) this.send();
  }
}

export async function connectClient(port: number, client: LoadClient): Promise<void> {
  client.socket = await Bun.connect<LoadClient>({
    hostname: HOST,
    port,
    data: client,
    socket: {
      data: (socket, chunk) => socket.data.onData(chunk),
      drain: (socket) => socket.data.writer?.drain(),
      close: (socket, error) => socket.data.onClose(error),
      error: (socket, error) => socket.data.onClose(error),
    },
  });
  client.socket.setNoDelay(true);
  client.writer = new SocketWriter(client.socket);
}

/** Reports (once per request) every client whose request has waited over STALL_MS. */
export function checkStalls(clients: readonly LoadClient[], run: Run): void {
  const now = performance.now();
  for (const client of clients) {
    if (!client.busy || client.stallReported || now - client.sentAt < STALL_MS) continue;
    client.stallReported = true;
    run.problem(`${client.role} unanswered for over ${STALL_MS} ms (stall)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Control requests (flush, stats) on a short-lived connection

/**
 * Writes `request` on a new connection and hands every chunk of the reply to `consume` until it
 * returns true (done) or throws; fails after `timeoutMs`, or if the connection closes first.
 * `label` names the request in errors and `progress` says how far the reply got.
 */
export function converse(
  port: number,
  request: string,
  timeoutMs: number,
  consume: (chunk: Buffer) => boolean,
  label: string,
  progress: () => string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, socket?: Socket<undefined>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.end();
      if (error === null) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => finish(new Error(`no complete reply to ${label} within ${timeoutMs / 1000} s; ${progress()}`)), timeoutMs);
    Bun.connect({
      hostname: HOST,
      port,
      socket: {
        open: (socket) => void socket.write(request),
        data: (socket, chunk) => {
          try {
            if (consume(chunk)) finish(null, socket);
          } catch (error) {
            finish(error as Error, socket);
          }
        },
        close: () => finish(new Error(`connection closed while waiting for the reply to ${label}; ${progress()}`)),
        error: (_socket, error) => finish(error),
      },
    }).catch((error: Error) => finish(error));
  });
}

/** A control request and its whole text reply (complete once `done` says so). */
export async function exchange(port: number, request: string, done: (reply: string) => boolean): Promise<string> {
  let reply = "";
  const consume = (chunk: Buffer) => done((reply += chunk.toString("latin1")));
  await converse(port, request, EXCHANGE_TIMEOUT_MS, consume, JSON.stringify(request), () => `got ${JSON.stringify(reply)}`);
  return reply;
}

/** The server's numeric `stats`, by name. */
export async function readStats(port: number): Promise<Map<string, number>> {
  const reply = await exchange(port, "stats\r\n", (text) => text.endsWith("END\r\n"));
  const stats = new Map<string, number>();
  for (const [name, value] of statsFromLines(reply.split("\r\n"))) {
    if (value !== "" && !Number.isNaN(Number(value))) stats.set(name, Number(value));
  }
  return stats;
}

/** Polls `probe` every 20 ms until it returns a value; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | null | Promise<T | null>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** `promise`, or an error saying what was awaited once `ms` have passed. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
