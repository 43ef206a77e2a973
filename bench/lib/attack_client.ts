/**
 * One connection of the attack benchmark, as a hostile or an ordinary client would use it: it
 * writes whatever it is given (pipelined requests, half a request, a data block it never
 * finishes), may stop reading its replies and start again, and hands back replies classified by
 * `ReplyParser`, multi-key gets included (each VALUE block checked against the expected item).
 *
 * Invariants: bytes reach the socket in the order `send` was called (`SocketWriter`); every
 * reply is either kept in `received` or handed to exactly one `replies` call, in arrival order;
 * once the connection has ended (the server closed it, or `close`), a reply wait still pending
 * fails, and so do later ones, while later sends are dropped.
 */
import type { Socket } from "bun";
import { MAX_NEW_QUEUES } from "./attack_bounds.ts";
import { HOST, ReplyParser, type ReplyKind } from "./protocol.ts";
import { SocketWriter } from "./socket_writer.ts";

export interface Reply {
  readonly kind: ReplyKind;
  /** The reply line, for kinds other than stored, hit and miss. */
  readonly detail: string;
  /** VALUE blocks in a hit (a get of several keys may have several), 0 for other kinds. */
  readonly values: number;
  /** performance.now() when the reply was complete. */
  readonly at: number;
}

interface ReplyWait {
  readonly count: number;
  readonly resolve: (replies: Reply[]) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

const DEFAULT_REPLY_TIMEOUT_MS = 30_000;
/** VALUE blocks one reply may hold: more than any get line of MAX_LINE_LENGTH can ask for. */
const MAX_VALUES = 8192;

export class AttackClient {
  /** Why the connection ended, or null while it is open. */
  closedBy: string | null = null;
  private bytesGiven = 0;
  private socket: Socket<AttackClient> | null = null;
  private writer: SocketWriter | null = null;
  private received: Reply[] = [];
  private wait: ReplyWait | null = null;
  private readonly parser: ReplyParser;

  /** `valueBlock`: what a VALUE's data block (with its CRLF) must be for the reply to count as a hit rather than corrupt. */
  private constructor(valueBlock: Uint8Array) {
    this.parser = new ReplyParser(valueBlock, (kind, detail, values) => this.onReply(kind, detail, values), MAX_VALUES);
  }

  static async connect(port: number, valueBlock: Uint8Array = new Uint8Array(0)): Promise<AttackClient> {
    const client = new AttackClient(valueBlock);
    client.socket = await Bun.connect<AttackClient>({
      hostname: HOST,
      port,
      data: client,
      socket: {
        data: (socket, chunk) => socket.data.parser.feed(chunk),
        drain: (socket) => socket.data.writer?.drain(),
        close: (socket, error) => socket.data.onClose(`closed${error ? ` (${error.message})` : ""}`),
        error: (socket, error) => socket.data.onClose(error.message),
      },
    });
    client.socket.setNoDelay(true);
    client.writer = new SocketWriter(client.socket);
    return client;
  }

  /** Bytes the socket has taken (the kernel's buffers and the server hold them). */
  get bytesSent(): number {
    return this.bytesGiven - (this.writer?.pending ?? 0);
  }

  /** Writes `data` after everything sent before it (dropped once the connection has ended). */
  send(data: Uint8Array | string): void {
    if (this.closedBy !== null) return;
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    this.bytesGiven += bytes.length;
    this.writer!.write(bytes);
  }

  /** The next `count` replies; fails after `timeoutMs`, or if the connection ends first. One wait at a time. */
  replies(count: number, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<Reply[]> {
    if (this.wait !== null) throw new Error("already waiting for replies on this connection");
    if (this.received.length >= count) return Promise.resolve(this.take(count));
    if (this.closedBy !== null) return Promise.reject(new Error(`connection ${this.closedBy} after ${this.received.length} of ${count} replies`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wait = null;
        reject(new Error(`${this.received.length} of ${count} replies within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.wait = { count, resolve, reject, timer };
    });
  }

  /** `send` then `replies`. */
  request(data: Uint8Array | string, count = 1, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<Reply[]> {
    this.send(data);
    return this.replies(count, timeoutMs);
  }

  /** Stops reading: replies pile up in the kernel's buffers, then in the server. */
  pauseReading(): void {
    this.socket?.pause();
  }

  resumeReading(): void {
    this.socket?.resume();
  }

  close(): void {
    this.socket?.end();
    this.onClose("closed by the client");
  }

  /** Resets the connection: the server drops what it has not read yet (close() lets it read all that was sent). */
  abort(): void {
    this.socket?.terminate();
    this.onClose("reset by the client");
  }

  private onReply(kind: ReplyKind, detail: string, values: number): void {
    this.received.push({ kind, detail, values, at: performance.now() });
    const wait = this.wait;
    if (wait === null || this.received.length < wait.count) return;
    this.wait = null;
    clearTimeout(wait.timer);
    wait.resolve(this.take(wait.count));
  }

  private take(count: number): Reply[] {
    const taken = this.received.slice(0, count);
    this.received = this.received.slice(count);
    return taken;
  }

  private onClose(reason: string): void {
    if (this.closedBy !== null) return;
    this.closedBy = reason;
    const wait = this.wait;
    this.wait = null;
    if (wait !== null) {
      clearTimeout(wait.timer);
      wait.reject(new Error(`connection ${reason} after ${this.received.length} of ${wait.count} replies`));
    }
  }
}

/** `count` connections to `port`, opened `concurrency` at a time. */
export async function connectMany(port: number, count: number, concurrency = 500, valueBlock?: Uint8Array): Promise<AttackClient[]> {
  const connections: AttackClient[] = [];
  try {
    while (connections.length < count) {
      const wave = Math.min(concurrency, count - connections.length);
      connections.push(...(await Promise.all(Array.from({ length: wave }, () => AttackClient.connect(port, valueBlock)))));
    }
  } catch (error) {
    for (const connection of connections) connection.close();
    throw error;
  }
  return connections;
}

/**
 * Sets `item` under `keyOf(0)`, ..., `keyOf(count - 1)`: `batch` sets per write, each write after
 * the replies to the one before. Throws on a reply other than STORED. Returns the longest time a
 * set waited for its reply, from the write of its batch, in ms.
 */
export async function setInBatches(client: AttackClient, keyOf: (n: number) => string, count: number, item: Uint8Array, batch: number): Promise<number> {
  const tail = Buffer.from("\r\n");
  let worstMs = 0;
  for (let first = 0; first < count; first += batch) {
    const size = Math.min(batch, count - first);
    const parts = Array.from({ length: size }, (_, i) => [Buffer.from(`set ${keyOf(first + i)} 0 0 ${item.length}\r\n`), item, tail]).flat();
    const sentAt = performance.now();
    const replies = await client.request(Buffer.concat(parts), size, 120_000);
    const refused = replies.find((reply) => reply.kind !== "stored");
    if (refused !== undefined) throw new Error(`set ${keyOf(first)}...: answered ${refused.kind} ${refused.detail}`.trim());
    worstMs = Math.max(worstMs, replies[replies.length - 1]!.at - sentAt);
  }
  return worstMs;
}

/**
 * Lets clients that stopped reading read again, takes the next `count` replies of each and closes
 * it; the VALUE blocks they received in all, and what was wrong (a reply other than a hit or a
 * miss, replies that did not come).
 */
export async function readBack(clients: readonly AttackClient[], count: number): Promise<{ values: number; wrong: string[] }> {
  const wrong: string[] = [];
  let values = 0;
  const all = await Promise.all(
    clients.map((client) => {
      client.resumeReading();
      return client.replies(count, 120_000).catch((error: Error) => error);
    }),
  );
  for (const replies of all) {
    if (replies instanceof Error) {
      wrong.push(`a client's replies: ${replies.message}`);
      continue;
    }
    values += replies.reduce((sum, reply) => sum + reply.values, 0);
    const bad = replies.find((reply) => reply.kind !== "hit" && reply.kind !== "miss");
    if (bad !== undefined) wrong.push(`a get answered ${bad.kind} ${bad.detail}`.trim());
  }
  for (const client of clients) client.close();
  return { values, wrong };
}

/** Gets of `names`, none of which exists yet: MAX_NEW_QUEUES per get (the most one get may create), a request line each. */
export function getsOfNewNames(names: readonly string[]): string[] {
  const gets: string[] = [];
  for (let first = 0; first < names.length; first += MAX_NEW_QUEUES) gets.push(`get ${names.slice(first, first + MAX_NEW_QUEUES).join(" ")}\r\n`);
  return gets;
}

/** Sends `requests` in one write and waits for their replies; null if each was `expected` (a miss reads END), else what one was. */
export async function expectAll(client: AttackClient, requests: readonly string[], expected: string): Promise<string | null> {
  const replies = await client.request(requests.join(""), requests.length, 120_000);
  const wrong = replies.find((reply) => (reply.kind === "miss" ? "END" : reply.detail) !== expected);
  return wrong === undefined ? null : `expected ${expected}, got ${wrong.kind} ${wrong.detail}`.trim();
}
