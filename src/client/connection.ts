/**
 * One TCP connection to one server (node:net, so it runs on Node and Bun alike), with requests
 * pipelined: each `request` writes its bytes at once and gets the reply that comes back in its
 * turn, since a memcache server answers in request order.
 *
 * Invariants:
 *   - replies are matched to requests strictly in order; a reply nobody asked for, or one that
 *     does not parse, breaks the connection;
 *   - once broken (closed by either side, a socket error, a malformed reply, the head request
 *     past its deadline, an abort) the connection is never used again, and every request still
 *     waiting fails with the error that broke it, which names the server;
 *   - a request's deadline counts from when it was written; only the oldest request can be late
 *     (later ones are answered after it), so one timer watches the head.
 * Backpressure: requests go to the socket at once and Node's stream buffers them in order; what
 * is in flight is bounded by the callers' outstanding promises.
 */
import { Socket, createConnection } from "node:net";
import { AbortedError, ConnectionError, KestrelError, ProtocolError, TimeoutError } from "./errors.ts";
import { MalformedReply, ReplyCollector, ReplyReader, type Reply, type ReplyShape } from "./protocol.ts";

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** `host:port` (`[v6]:port`), as errors name it. */
  readonly name: string;
}

interface Pending {
  readonly collector: ReplyCollector;
  readonly deadline: number;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: KestrelError) => void;
}

export class Connection {
  private readonly reader = new ReplyReader();
  /** Requests in write order; those before `head` are answered (cleared to let their memory go). */
  private readonly pending: Array<Pending | undefined> = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private brokenBy: KestrelError | null = null;
  /** Called once, when the connection breaks. */
  onBroken: (error: KestrelError) => void = () => {};

  private constructor(
    readonly endpoint: Endpoint,
    private readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.received(chunk));
    socket.on("error", (error) => this.break(new ConnectionError(endpoint.name, `connection failed: ${error.message}`, { cause: error })));
    socket.on("close", () => this.break(new ConnectionError(endpoint.name, "connection closed by the server")));
  }

  /** Connects; rejects with a ConnectionError after `timeoutMs` or on failure. */
  static open(endpoint: Endpoint, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: endpoint.host, port: endpoint.port });
      const fail = (message: string, cause?: unknown) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ConnectionError(endpoint.name, message, { cause }));
      };
      const timer = setTimeout(() => fail(`could not connect within ${timeoutMs} ms`), timeoutMs);
      socket.once("error", (error) => fail(`could not connect: ${error.message}`, error));
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new Connection(endpoint, socket));
      });
    });
  }

  get usable(): boolean {
    return this.brokenBy === null;
  }

  /** Requests written and not answered yet. */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  /**
   * Writes `bytes` and resolves with the reply of the given shape. Rejects (and breaks the
   * connection) if no complete reply came within `timeoutMs`, or when `signal` aborts.
   */
  request(bytes: Uint8Array, shape: ReplyShape, timeoutMs: number, signal?: AbortSignal): Promise<Reply> {
    if (this.brokenBy !== null) return Promise.reject(this.brokenBy);
    if (signal?.aborted) return Promise.reject(new AbortedError(this.endpoint.name));
    return new Promise<Reply>((resolve, reject) => {
      const onAbort = () => this.break(new AbortedError(this.endpoint.name));
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle = () => signal?.removeEventListener("abort", onAbort);
      this.pending.push({
        collector: new ReplyCollector(shape),
        deadline: Date.now() + timeoutMs,
        resolve: (reply) => (settle(), resolve(reply)),
        reject: (error) => (settle(), reject(error)),
      });
      this.socket.write(bytes);
      if (this.timer === null) this.watchHead();
    });
  }

  /** Closes the connection; requests still waiting fail with `reason`. */
  close(reason: KestrelError = new ConnectionError(this.endpoint.name, "connection closed by the client")): void {
    this.break(reason);
  }

  private received(chunk: Uint8Array): void {
    this.reader.push(chunk);
    try {
      for (let element = this.reader.next(); element !== null; element = this.reader.next()) {
        const request = this.pending[this.head];
        if (request === undefined) throw new MalformedReply(`a reply nobody asked for: ${JSON.stringify(element.kind === "line" ? element.line : element.key)}`);
        const reply = request.collector.accept(element);
        if (reply === null) continue;
        this.pending[this.head++] = undefined;
        this.dropAnswered();
        request.resolve(reply);
      }
    } catch (error) {
      if (!(error instanceof MalformedReply)) throw error;
      this.break(new ProtocolError(this.endpoint.name, error.message));
    }
  }

  /** Shrinks the request list once it is empty, or mostly answered (pipelining may never empty it). */
  private dropAnswered(): void {
    if (this.head === this.pending.length) {
      this.pending.length = this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Arms the one timer for the oldest request's deadline; breaks the connection if it passed. */
  private watchHead(): void {
    this.timer = null;
    const oldest = this.pending[this.head];
    if (oldest === undefined || this.brokenBy !== null) return;
    const left = oldest.deadline - Date.now();
    if (left <= 0) return this.break(new TimeoutError(this.endpoint.name, "no reply in time; connection closed"));
    this.timer = setTimeout(() => this.watchHead(), left);
    this.timer.unref?.();
  }

  private break(error: KestrelError): void {
    if (this.brokenBy !== null) return;
    this.brokenBy = error;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket.destroy();
    const waiting = this.pending.slice(this.head);
    this.pending.length = this.head = 0;
    for (const request of waiting) request!.reject(error);
    this.onBroken(error);
  }
}
