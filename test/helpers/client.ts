/**
 * A raw memcache-protocol client for tests: sends exact bytes, reads replies line by line or by
 * byte count, so tests can check the wire format itself. Replies are read through the client
 * library's `ReplyReader` (src/client/protocol.ts), the one memcache reply parser of the project.
 */
import type { Socket } from "bun";
import { ReplyCollector, ReplyReader, replyText, statsFromLines, type ReplyShape, type Value } from "../../src/client/protocol.ts";

export class TestClient {
  private readonly reader = new ReplyReader();
  private waiter: (() => void) | null = null;
  private drainWaiter: (() => void) | null = null;
  private ended = false;
  private socket!: Socket<undefined>;
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  private constructor() {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  /**
   * `throttleMs` makes a slow reader: after each chunk received, reading stops for that long, so
   * the server's socket fills up and it has to hold replies back.
   */
  static async connect(port: number, host = "127.0.0.1", throttleMs = 0): Promise<TestClient> {
    const client = new TestClient();
    client.socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (socket, chunk) => {
          client.reader.push(new Uint8Array(chunk));
          client.wake();
          if (throttleMs > 0) {
            socket.pause();
            setTimeout(() => socket.resume(), throttleMs);
          }
        },
        drain: () => client.wakeWriter(),
        close: () => client.finish(),
        end: () => client.finish(),
        error: () => client.finish(),
      },
    });
    return client;
  }

  private finish(): void {
    this.ended = true;
    this.wake();
    this.wakeWriter();
    this.markClosed();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private wakeWriter(): void {
    const waiter = this.drainWaiter;
    this.drainWaiter = null;
    waiter?.();
  }

  private async waitForData(): Promise<void> {
    if (this.ended) throw new Error("connection closed by server");
    await new Promise<void>((resolve) => (this.waiter = resolve));
  }

  /** Writes all of `data`, waiting for the socket's drain event when it pushes back. */
  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    for (;;) {
      const written = this.socket.write(bytes);
      if (written < 0) throw new Error("socket closed");
      bytes = bytes.subarray(written);
      if (bytes.length === 0) return;
      if (this.ended) throw new Error("connection closed by server");
      await new Promise<void>((resolve) => (this.drainWaiter = resolve));
    }
  }

  /** Gets until the queue is empty; returns what came out, in order. */
  async drain(queue: string): Promise<string[]> {
    const out: string[] = [];
    for (let value = await this.get(queue); value !== null; value = await this.get(queue)) out.push(value);
    return out;
  }

  async readLine(): Promise<string> {
    for (let line = this.reader.nextLine(); ; line = this.reader.nextLine()) {
      if (line !== null) return line;
      await this.waitForData();
    }
  }

  /** The next `n` bytes (a copy, so callers may keep it). */
  async readBytes(n: number): Promise<Uint8Array> {
    for (let bytes = this.reader.take(n); ; bytes = this.reader.take(n)) {
      if (bytes !== null) return bytes.slice();
      await this.waitForData();
    }
  }

  /** What was received and not read yet (for a test's failure message). */
  get unread(): string {
    return Buffer.from(this.reader.pending()).toString("latin1");
  }

  /** Everything received and not read yet, once the connection has closed. */
  async rest(): Promise<Uint8Array> {
    await this.closed;
    return this.readBytes(this.reader.buffered);
  }

  /** One whole reply of the given shape; throws if the bytes can't be one. */
  private async readReply(shape: ReplyShape) {
    const collector = new ReplyCollector(shape);
    for (;;) {
      const element = this.reader.next();
      if (element === null) await this.waitForData();
      else {
        const reply = collector.accept(element);
        if (reply !== null) return reply;
      }
    }
  }

  /** Sends a command line and returns the first reply line. */
  async call(command: string): Promise<string> {
    await this.send(`${command}\r\n`);
    return this.readLine();
  }

  async set(queue: string, data: string | Uint8Array, exptime = 0, flags = 0): Promise<string> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    await this.send(Buffer.concat([Buffer.from(`set ${queue} ${flags} ${exptime} ${bytes.length}\r\n`), bytes, Buffer.from("\r\n")]));
    return this.readLine();
  }

  /** Reads one get reply: the item's bytes, or null for END. */
  async readValue(): Promise<{ key: string; data: Uint8Array } | null> {
    const reply = await this.readGetReply();
    if (reply !== null && "error" in reply) throw new Error(`unexpected reply: ${reply.error}`);
    return reply;
  }

  /**
   * Reads one get reply: the item's bytes, null for END, or the error line the server sent instead
   * (`SERVER_ERROR ...`, `CLIENT_ERROR ...`, `ERROR`).
   */
  async readGetReply(): Promise<{ key: string; data: Uint8Array } | { error: string } | null> {
    const reply = await this.readReply("values");
    if (reply.kind === "error") return { error: reply.line };
    if (reply.kind !== "values" || reply.values.length > 1) throw new Error(`unexpected reply: ${replyText(reply)}`);
    const value = reply.values[0];
    return value === undefined ? null : { key: value.key, data: value.data.slice() };
  }

  /**
   * Sends `command` (`get ...` or `gets ...`) and reads its reply's VALUE blocks (none for END),
   * flags and cas included, each with a copy of its data; throws for an error line.
   */
  async values(command: string): Promise<Value[]> {
    await this.send(`${command}\r\n`);
    const reply = await this.readReply("values");
    if (reply.kind !== "values") throw new Error(`unexpected reply to ${command}: ${replyText(reply)}`);
    return reply.values.map((value) => ({ ...value, data: value.data.slice() }));
  }

  async get(key: string): Promise<string | null> {
    await this.send(`get ${key}\r\n`);
    const value = await this.readValue();
    return value === null ? null : Buffer.from(value.data).toString();
  }

  /** Reply lines up to and including the terminating END. */
  async readUntilEnd(): Promise<string[]> {
    const lines: string[] = [];
    for (let line = await this.readLine(); line !== "END"; line = await this.readLine()) lines.push(line);
    return lines;
  }

  /** Sets each of `items` on `queue`, in order; throws unless each is STORED. */
  async setEach(queue: string, items: readonly string[]): Promise<void> {
    for (const item of items) {
      const reply = await this.set(queue, item);
      if (reply !== "STORED") throw new Error(`set ${queue} ${item}: ${reply}`);
    }
  }

  /** One stat of one queue (`queue_<queue>_<name>` in `stats`), or undefined if there is none. */
  async queueStat(queue: string, name: string): Promise<string | undefined> {
    return (await this.stats()).get(`queue_${queue}_${name}`);
  }

  /** Asks `stats` until the queue's stat `name` reads `value` (a state another client's action brings about). */
  async untilQueueStat(queue: string, name: string, value: number): Promise<void> {
    while ((await this.queueStat(queue, name)) !== String(value));
  }

  async stats(): Promise<Map<string, string>> {
    await this.send("stats\r\n");
    const reply = await this.readReply("lines");
    if (reply.kind !== "lines") throw new Error(`unexpected reply to stats: ${replyText(reply)}`);
    return statsFromLines(reply.lines);
  }

  close(): void {
    this.socket.end();
  }
}
