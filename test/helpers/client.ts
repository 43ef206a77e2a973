/**
 * A raw memcache-protocol client for tests: sends exact bytes, reads replies line by line or by
 * byte count, so tests can check the wire format itself.
 */
import type { Socket } from "bun";

export class TestClient {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
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
          client.chunks.push(new Uint8Array(chunk));
          client.buffered += chunk.length;
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

  /** Takes `n` buffered bytes from the front (a copy, so callers may keep it). */
  private consume(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(n - filled, chunk.length);
      out.set(chunk.subarray(0, count), filled);
      filled += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.buffered -= n;
    return out;
  }

  /** Offset of the first "\n" in the buffered bytes, or -1. */
  private newlineAt(): number {
    let base = 0;
    for (const chunk of this.chunks) {
      const at = chunk.indexOf(10);
      if (at !== -1) return base + at;
      base += chunk.length;
    }
    return -1;
  }

  async readLine(): Promise<string> {
    for (;;) {
      const index = this.newlineAt();
      if (index !== -1) {
        const bytes = this.consume(index + 1);
        return Buffer.from(bytes.subarray(0, bytes.length - 2)).toString("latin1");
      }
      await this.waitForData();
    }
  }

  async readBytes(n: number): Promise<Uint8Array> {
    while (this.buffered < n) await this.waitForData();
    return this.consume(n);
  }

  /** What was received and not read yet (for a test's failure message). */
  get unread(): string {
    return this.chunks.map((chunk) => Buffer.from(chunk).toString("latin1")).join("");
  }

  /** Everything received and not read yet, once the connection has closed. */
  async rest(): Promise<Uint8Array> {
    await this.closed;
    return this.consume(this.buffered);
  }

  /** Sends a command line and returns the first reply line. */
  async call(command: string): Promise<string> {
    await this.send(`${command}\r\n`);
    return this.readLine();
  }

  async set(queue: string, data: string | Uint8Array, exptime = 0): Promise<string> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    await this.send(Buffer.concat([Buffer.from(`set ${queue} 0 ${exptime} ${bytes.length}\r\n`), bytes, Buffer.from("\r\n")]));
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
    const header = await this.readLine();
    if (header === "END") return null;
    if (/^(SERVER_ERROR|CLIENT_ERROR|ERROR)\b/.test(header)) return { error: header };
    const match = /^VALUE (\S+) 0 (\d+)$/.exec(header);
    if (match === null) throw new Error(`unexpected reply: ${header}`);
    const data = await this.readBytes(Number(match[2]) + 2);
    const end = await this.readLine();
    if (end !== "END") throw new Error(`expected END, got ${end}`);
    return { key: match[1]!, data: data.subarray(0, data.length - 2) };
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

  async stats(): Promise<Map<string, string>> {
    await this.send("stats\r\n");
    const lines = await this.readUntilEnd();
    return new Map(lines.map((line) => line.split(" ").slice(1) as [string, string]));
  }

  close(): void {
    this.socket.end();
  }
}
