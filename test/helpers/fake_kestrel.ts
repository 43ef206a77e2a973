/**
 * A fake kestrel for the client's unit tests: an in-process memcache server (node:net on a
 * loopback address, port 0 unless told) with in-memory FIFO queues, speaking what the client
 * sends (`set`; `get` with /open, /close, /abort, /t=; `status`) and able to misbehave on demand:
 * refuse as its status says, not know `status`, drop the connection before or after storing,
 * never answer, or break its promises (lose an acknowledged item, hand one out twice).
 *
 * Like the real server: each connection's requests are handled one after another (a blocking get
 * holds the ones behind it), an open item belongs to the connection that opened it and goes back
 * to the head of its queue when that connection closes, and a refusal leaves the connection usable.
 */
import { type Server, type Socket, createServer } from "node:net";
import { ReplyReader } from "../../src/client/protocol.ts";

export type FakeStatus = "up" | "readonly" | "quiescent" | "writeavoid";

/**
 * What a `set` does: store and answer, answer NOT_STORED, close the connection before or after
 * storing, store and never answer, answer without storing ("discard"), or store two copies.
 */
export type SetBehaviour = "store" | "not-stored" | "drop-before-store" | "drop-after-store" | "silent" | "discard" | "store-twice";

export class FakeKestrel {
  status: FakeStatus = "up";
  /** False: `status` is answered `ERROR`, as by a server that predates the command. */
  knowsStatus = true;
  onSet: SetBehaviour = "store";
  /** When set, every `get` is answered with this line instead (an error the test wants seen). */
  getReply: string | null = null;
  readonly queues = new Map<string, Uint8Array[]>();
  /** Every request line received, in order. */
  readonly requests: string[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly waiters: Array<() => void> = [];
  private readonly watchers: Array<() => void> = [];

  /** The port it listens on (kept after `stop`, so a test can name a dead server). */
  port = 0;

  private constructor(
    private readonly server: Server,
    readonly host: string,
  ) {}

  /** Listens on `host` (any loopback address) and `port` (0: any free one). */
  static async start(host = "127.0.0.1", port = 0): Promise<FakeKestrel> {
    const server = createServer();
    const fake = new FakeKestrel(server, host);
    server.on("connection", (socket) => fake.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
    fake.port = (server.address() as { port: number }).port;
    return fake;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  items(queue: string): string[] {
    return (this.queues.get(queue) ?? []).map((item) => Buffer.from(item).toString());
  }

  add(queue: string, item: string): void {
    this.queue(queue).push(Buffer.from(item));
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once a request line matching `pattern` has been received (now or before). */
  async received(pattern: RegExp): Promise<string> {
    for (;;) {
      const line = this.requests.find((request) => pattern.test(request));
      if (line !== undefined) return line;
      await new Promise<void>((resolve) => this.watchers.push(resolve));
    }
  }

  /** Resolves once at most `connections` clients are connected (the others' open items are back in the queues then). */
  async idle(connections = 0): Promise<void> {
    while (this.sockets.size > connections) await new Promise<void>((resolve) => this.watchers.push(resolve));
  }

  private notify(): void {
    for (const wake of this.watchers.splice(0)) wake();
  }

  /** Closes every client connection (as a crash would). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private queue(name: string): Uint8Array[] {
    let queue = this.queues.get(name);
    if (queue === undefined) this.queues.set(name, (queue = []));
    return queue;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const reader = new ReplyReader();
    const open = new Map<string, Uint8Array>();
    let pendingSet: { queue: string; length: number } | null = null;
    let busy = Promise.resolve();
    socket.on("close", () => {
      this.sockets.delete(socket);
      for (const [queue, item] of open) this.queue(queue).unshift(item);
      this.notify();
    });
    socket.on("error", () => {});
    socket.on("data", (chunk: Uint8Array) => {
      reader.push(new Uint8Array(chunk));
      for (;;) {
        if (pendingSet !== null) {
          const block = reader.take(pendingSet.length + 2);
          if (block === null) return;
          const set = pendingSet;
          pendingSet = null;
          busy = busy.then(() => this.set(socket, set.queue, block.slice(0, set.length)));
          continue;
        }
        const line = reader.nextLine();
        if (line === null) return;
        this.requests.push(line);
        this.notify();
        const [command, key, , , length] = line.split(" ");
        if (command === "set") pendingSet = { queue: key!, length: Number(length) };
        else busy = busy.then(() => this.command(socket, command!, key, open));
      }
    });
  }

  private set(socket: Socket, queue: string, data: Uint8Array): void {
    if (this.status === "readonly" || this.status === "quiescent") return void socket.write(`SERVER_ERROR server is ${this.status}\r\n`);
    if (this.onSet === "drop-before-store") return void socket.destroy();
    if (this.onSet === "not-stored") return void socket.write("NOT_STORED\r\n");
    const copies = this.onSet === "discard" ? 0 : this.onSet === "store-twice" ? 2 : 1;
    for (let i = 0; i < copies; i++) this.add(queue, Buffer.from(data).toString());
    if (this.onSet === "drop-after-store") socket.destroy();
    else if (this.onSet !== "silent") socket.write("STORED\r\n");
  }

  private async command(socket: Socket, command: string, key: string | undefined, open: Map<string, Uint8Array>): Promise<void> {
    if (command === "status") return void socket.write(this.knowsStatus ? `${this.status.toUpperCase()}\r\n` : "ERROR\r\n");
    if (command !== "get" || key === undefined) return void socket.write("ERROR\r\n");
    if (this.getReply !== null) return void socket.write(`${this.getReply}\r\n`);
    if (this.status === "quiescent") return void socket.write("SERVER_ERROR server is quiescent\r\n");
    const [queue, ...options] = key.split("/");
    const wait = options.find((option) => option.startsWith("t="));
    if (options.includes("close")) open.delete(queue!);
    if (options.includes("abort")) {
      const item = open.get(queue!);
      open.delete(queue!);
      if (item !== undefined) this.queue(queue!).unshift(item);
    }
    if (!options.includes("open") && (options.includes("close") || options.includes("abort"))) return void socket.write("END\r\n");
    const item = await this.take(queue!, wait === undefined ? 0 : Number(wait.slice(2)), socket);
    if (item === undefined) return void socket.write("END\r\n");
    if (options.includes("open")) open.set(queue!, item);
    socket.write(Buffer.concat([Buffer.from(`VALUE ${key} 0 ${item.length}\r\n`), item, Buffer.from("\r\nEND\r\n")]));
  }

  /** The head of `queue`, waiting up to `waitMs` for one while `socket` is open. */
  private async take(queue: string, waitMs: number, socket: Socket): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (socket.destroyed) return undefined;
      const item = this.queue(queue).shift();
      if (item !== undefined || Date.now() >= deadline) return item;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }
}
