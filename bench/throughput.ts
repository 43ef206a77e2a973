/**
 * Throughput benchmark: Kestrel against memcached, over the memcache text protocol on loopback.
 *
 * What it measures
 *   Closed-loop load from one Bun process. P producer connections each send
 *   `set bench 0 0 <size>` with a fixed item and wait for STORED before sending the next; C consumer
 *   connections each send a get and wait for the whole reply (a VALUE block and END, or a bare END
 *   when the queue is empty). Kestrel's consumers use a blocking get, `get bench/t=500`, as queue
 *   consumers do (so a get returns an item, not a miss to poll again); memcached's use `get bench`. Scenarios are P+C = 1+1, 10+10 and 50+50. Each scenario runs a
 *   warm-up (~1 s, not measured), then a measured window. Reported per scenario: set ops/s, get ops/s
 *   (hits and misses both count; the hit rate is shown), total ops/s, and p50/p99/max latency in ms
 *   (send until the complete reply) for sets and gets separately, plus the CPU used by the server
 *   and by this load generator.
 *
 * Targets (each started here and stopped at the end; temp dirs are removed)
 *   kestrel          src/main.ts on a fresh temp data dir with the default config
 *                    (journal on, sync_journal never)
 *   kestrel fsync    the same with a config file saying sync_journal = "always"
 *   memcached -t 1   one worker thread, on a free loopback port; installed with apt-get if it is not
 *                    on PATH. `set bench` overwrites one key and `get bench` always hits: it is the
 *                    ceiling of the protocol and loopback, not a queue.
 *   Before each scenario the key is emptied (`flush bench` / `delete bench`); after it the server's
 *   own counters (`stats`) are compared with what the clients saw, and for Kestrel the items left in
 *   the queue must equal sets minus hits. Any mismatch, unexpected reply, corrupted item, stall
 *   (a request unanswered for over 1 s) or dropped connection is listed under "Problems".
 *
 * Run
 *   bun run bench
 *   BENCH_SECONDS=3 BENCH_SCENARIOS=1,10 bun bench/throughput.ts
 *
 * Environment
 *   BENCH_SECONDS    measured seconds per scenario (default 5)
 *   BENCH_SCENARIOS  connections per side, comma-separated (default "1,10,50": 1+1, 10+10, 50+50)
 *   BENCH_ITEM_SIZE  bytes per item (default 1024)
 *   BENCH_GET_WAIT_MS  the t= of Kestrel's blocking gets (default 500; 0 = plain polling gets)
 *   TMPDIR           where the data dirs go; the fsync column depends on that filesystem
 *
 * Output: markdown tables on stdout, progress on stderr.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, Subprocess } from "bun";

const MAIN = join(import.meta.dir, "..", "src", "main.ts");
const KEY = "bench";
const HOST = "127.0.0.1";
const WARMUP_MS = 1000;
/** A request unanswered for this long is reported as a stall. */
const STALL_MS = 1000;
/** How long to wait for the last in-flight replies after the measured window. */
const DRAIN_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Settings

class SettingsError extends Error {}

interface Settings {
  readonly seconds: number;
  readonly scenarios: readonly number[];
  readonly itemSize: number;
  readonly getWaitMs: number;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const seconds = Number(env.BENCH_SECONDS ?? "5");
  if (!(seconds > 0)) throw new SettingsError(`BENCH_SECONDS: expected a positive number, got "${env.BENCH_SECONDS}"`);
  const itemSize = Number(env.BENCH_ITEM_SIZE ?? "1024");
  if (!Number.isInteger(itemSize) || itemSize < 0) throw new SettingsError(`BENCH_ITEM_SIZE: expected a byte count, got "${env.BENCH_ITEM_SIZE}"`);
  const scenarios = (env.BENCH_SCENARIOS ?? "1,10,50").split(",").map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n < 1) throw new SettingsError(`BENCH_SCENARIOS: expected positive integers like "1,10,50", got "${env.BENCH_SCENARIOS}"`);
    return n;
  });
  const getWaitMs = Number(env.BENCH_GET_WAIT_MS ?? "500");
  if (!Number.isInteger(getWaitMs) || getWaitMs < 0 || getWaitMs >= STALL_MS) {
    throw new SettingsError(`BENCH_GET_WAIT_MS: expected whole milliseconds below ${STALL_MS}, got "${env.BENCH_GET_WAIT_MS}"`);
  }
  return { seconds, scenarios, itemSize, getWaitMs };
}

// ---------------------------------------------------------------------------------------------
// Request bytes, built once

const CR = 13;
const LF = 10;
const ascii = (text: string): Uint8Array => Buffer.from(text, "latin1");
const STORED = ascii("STORED");
const END = ascii("END");
const VALUE_PREFIX = ascii("VALUE ");

interface Requests {
  readonly set: Uint8Array;
  readonly get: Uint8Array;
  /** What a hit's data block must be: the item followed by CRLF. */
  readonly valueBlock: Uint8Array;
}

function buildRequests(itemSize: number, getKey: string): Requests {
  const item = new Uint8Array(itemSize);
  for (let i = 0; i < itemSize; i++) item[i] = 97 + (i % 26);
  const crlf = ascii("\r\n");
  return {
    set: Buffer.concat([ascii(`set ${KEY} 0 0 ${itemSize}\r\n`), item, crlf]),
    get: ascii(`get ${getKey}\r\n`),
    valueBlock: Buffer.concat([item, crlf]),
  };
}

// ---------------------------------------------------------------------------------------------
// Incremental reply parsing: bytes in, one callback per complete reply. Item data is compared
// with the expected bytes where it lies in the received chunks, never copied or decoded.

type ReplyKind = "stored" | "hit" | "miss" | "corrupt" | "unexpected";

class ReplyParser {
  private partial = new Uint8Array(256);
  private partialLength = 0;
  /** Bytes of the current VALUE data block (with its CRLF) still to come. */
  private dataLeft = 0;
  private dataOffset = 0;
  /** Inside a VALUE reply, waiting for its END. */
  private inValue = false;
  private intact = true;
  private valueLength = 0;

  constructor(
    private readonly valueBlock: Uint8Array,
    private readonly onReply: (kind: ReplyKind, detail: string) => void,
  ) {}

  feed(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.dataLeft > 0) {
        pos = this.consumeData(chunk, pos);
        continue;
      }
      const newline = chunk.indexOf(LF, pos);
      if (newline === -1) {
        this.keepPartial(chunk.subarray(pos));
        return;
      }
      const lineEnd = newline + 1;
      if (this.partialLength === 0) {
        this.onLine(chunk.subarray(pos, lineEnd));
      } else {
        this.keepPartial(chunk.subarray(pos, lineEnd));
        const line = this.partial.subarray(0, this.partialLength);
        this.partialLength = 0;
        this.onLine(line);
      }
      pos = lineEnd;
    }
  }

  private consumeData(chunk: Uint8Array, pos: number): number {
    const n = Math.min(this.dataLeft, chunk.length - pos);
    if (this.intact) {
      const expected = this.valueBlock.subarray(this.dataOffset, this.dataOffset + n);
      if (Buffer.compare(chunk.subarray(pos, pos + n), expected) !== 0) this.intact = false;
    }
    this.dataOffset += n;
    this.dataLeft -= n;
    return pos + n;
  }

  private keepPartial(bytes: Uint8Array): void {
    const needed = this.partialLength + bytes.length;
    if (needed > this.partial.length) {
      const grown = new Uint8Array(Math.max(needed, this.partial.length * 2));
      grown.set(this.partial.subarray(0, this.partialLength));
      this.partial = grown;
    }
    this.partial.set(bytes, this.partialLength);
    this.partialLength = needed;
  }

  /** `line` ends with LF (normally CRLF). */
  private onLine(line: Uint8Array): void {
    const text = line.subarray(0, line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1);
    if (this.inValue) {
      this.inValue = false;
      if (!bytesEqual(text, END)) return this.onReply("unexpected", `after a VALUE block: ${latin1(text)}`);
      if (this.intact) return this.onReply("hit", "");
      return this.onReply("corrupt", `VALUE of ${this.valueLength} bytes does not match the item that was set`);
    }
    if (bytesEqual(text, STORED)) return this.onReply("stored", "");
    if (bytesEqual(text, END)) return this.onReply("miss", "");
    const length = startsWith(text, VALUE_PREFIX) ? valueLength(text) : -1;
    if (length < 0) return this.onReply("unexpected", latin1(text));
    this.inValue = true;
    this.valueLength = length;
    this.dataLeft = length + 2;
    this.dataOffset = 0;
    this.intact = length + 2 === this.valueBlock.length;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  return a.length >= prefix.length && bytesEqual(a.subarray(0, prefix.length), prefix);
}

/** The <bytes> field of `VALUE <key> <flags> <bytes> [<cas>]`, or -1. */
function valueLength(header: Uint8Array): number {
  let field = 0;
  let n = -1;
  for (let i = 0; i < header.length; i++) {
    const byte = header[i]!;
    if (byte === 32) {
      if (field === 3) break;
      field++;
    } else if (field === 3) {
      if (byte < 48 || byte > 57) return -1;
      n = (n < 0 ? 0 : n * 10) + (byte - 48);
    }
  }
  return n;
}

function latin1(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

// ---------------------------------------------------------------------------------------------
// Latency samples

class Samples {
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

  /** Nearest-rank percentiles (0 < p <= 1), NaN when empty. */
  percentiles(ps: readonly number[]): number[] {
    const sorted = this.data.slice(0, this.length).sort();
    return ps.map((p) => (this.length === 0 ? NaN : sorted[Math.max(0, Math.ceil(p * this.length) - 1)]!));
  }
}

// ---------------------------------------------------------------------------------------------
// One scenario's bookkeeping, shared by its clients

type Role = "set" | "get";
type Phase = "warmup" | "measure" | "drain";

class Run {
  phase: Phase = "warmup";
  readonly setLatency = new Samples();
  readonly getLatency = new Samples();
  hits = 0;
  misses = 0;
  /** Replies over the whole run (warm-up and drain too), to check against the server's counters. */
  readonly all = { sets: 0, hits: 0, misses: 0, failed: 0 };
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
      else this.misses++;
    } else {
      this.all.failed++;
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

class LoadClient {
  socket: Socket<LoadClient> | null = null;
  busy = false;
  closed = false;
  sentAt = 0;
  stallReported = false;
  private unsent: Uint8Array | null = null;
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
    this.write(this.request);
  }

  onData(chunk: Uint8Array): void {
    this.parser.feed(chunk);
  }

  onDrain(): void {
    if (this.unsent !== null) this.write(this.unsent);
  }

  onClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.run.sending || this.busy) this.run.problem(`${this.role} connection closed by the server${error ? ` (${error.message})` : ""}`);
    this.busy = false;
  }

  private write(bytes: Uint8Array): void {
    const written = this.socket!.write(bytes);
    this.unsent = written < bytes.length ? bytes.subarray(Math.max(written, 0)) : null;
  }

  private onReply(kind: ReplyKind, detail: string): void {
    const now = performance.now();
    if (!this.busy) return this.run.problem(`${this.role} connection got a reply it did not ask for (${kind}${detail ? `: ${detail}` : ""})`);
    this.busy = false;
    this.run.record(this.role, kind, now - this.sentAt, detail);
    if (this.run.sending) this.send();
  }
}

async function connectClient(port: number, client: LoadClient): Promise<void> {
  client.socket = await Bun.connect<LoadClient>({
    hostname: HOST,
    port,
    data: client,
    socket: {
      data: (socket, chunk) => socket.data.onData(chunk),
      drain: (socket) => socket.data.onDrain(),
      close: (socket, error) => socket.data.onClose(error),
      error: (socket, error) => socket.data.onClose(error),
    },
  });
  client.socket.setNoDelay(true);
}

// ---------------------------------------------------------------------------------------------
// Control requests (flush, stats) on a short-lived connection

function exchange(port: number, request: string, done: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = "";
    let settled = false;
    const finish = (error: Error | null, socket?: Socket<undefined>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.end();
      if (error === null) resolve(reply);
      else reject(error);
    };
    const timer = setTimeout(() => finish(new Error(`no complete reply to ${JSON.stringify(request)} within 5 s; got ${JSON.stringify(reply)}`)), 5000);
    Bun.connect({
      hostname: HOST,
      port,
      socket: {
        open: (socket) => void socket.write(request),
        data: (socket, chunk) => {
          reply += chunk.toString("latin1");
          if (done(reply)) finish(null, socket);
        },
        close: () => finish(new Error(`connection closed while waiting for the reply to ${JSON.stringify(request)}`)),
        error: (_socket, error) => finish(error),
      },
    }).catch((error: Error) => finish(error));
  });
}

async function readStats(port: number): Promise<Map<string, number>> {
  const reply = await exchange(port, "stats\r\n", (text) => text.endsWith("END\r\n"));
  const stats = new Map<string, number>();
  for (const line of reply.split("\r\n")) {
    const [tag, name, value] = line.split(" ");
    if (tag === "STAT" && name !== undefined && value !== undefined && value !== "" && !Number.isNaN(Number(value))) stats.set(name, Number(value));
  }
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Child processes and temp dirs, cleaned up on every exit path

const children = new Set<Subprocess>();
const tempDirs = new Set<string>();

function cleanUpNow(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Keeps everything a child writes to stdout/stderr (the stream must be read or the child blocks). */
class OutputCapture {
  text = "";

  constructor(...streams: ReadableStream<Uint8Array>[]) {
    for (const stream of streams) void this.pump(stream);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.text += decoder.decode(chunk, { stream: true });
      if (this.text.length > 1_000_000) this.text = this.text.slice(-500_000);
    }
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | null | Promise<T | null>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// Targets

interface Target {
  readonly name: string;
  readonly port: number;
  /** A queue (items are consumed) rather than a cache (one key overwritten). */
  readonly isQueue: boolean;
  /** Removes whatever the previous scenario left under the key. */
  reset(): Promise<void>;
  /** CPU seconds the server process has used so far. */
  cpuSeconds(): number;
  /** Log lines worth reporting (warnings, errors). */
  notableOutput(): string[];
  /** Stops the server; returns problems (a bad exit code, a forced kill). */
  stop(): Promise<string[]>;
}

class ChildServer {
  private constructor(
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    readonly output: OutputCapture,
    private readonly dirs: readonly string[],
  ) {}

  static spawn(argv: string[], cwd: string, dirs: readonly string[]): ChildServer {
    const proc = Bun.spawn(argv, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    children.add(proc);
    return new ChildServer(proc, new OutputCapture(proc.stdout, proc.stderr), dirs);
  }

  exited(): string | null {
    return this.proc.exitCode === null && this.proc.signalCode === null ? null : `exited (${this.proc.exitCode ?? this.proc.signalCode})`;
  }

  cpuSeconds(): number {
    return processCpuSeconds(this.proc.pid);
  }

  async stop(expectZeroExit: boolean): Promise<string[]> {
    const problems: string[] = [];
    if (this.exited() !== null) problems.push(`server ${this.exited()} before the end of the benchmark`);
    this.proc.kill("SIGTERM");
    const code = await Promise.race([this.proc.exited, Bun.sleep(STOP_TIMEOUT_MS).then(() => null)]);
    if (code === null) {
      problems.push(`server did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; killed`);
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    } else if (expectZeroExit && code !== 0) {
      problems.push(`server exited with code ${code} after SIGTERM`);
    }
    children.delete(this.proc);
    for (const dir of this.dirs) {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    }
    return problems;
  }
}

async function startKestrel(name: string, configToml: string | null): Promise<Target> {
  const root = makeTempDir("kestrel-bench-");
  const argv = [process.execPath, MAIN, "--host", HOST, "--port", "0", "--data", join(root, "data")];
  if (configToml !== null) {
    writeFileSync(join(root, "kestrel.toml"), configToml);
    argv.push("--config", join(root, "kestrel.toml"));
  }
  // cwd = the temp dir, so a kestrel.toml in the caller's directory can't change the defaults.
  const server = ChildServer.spawn(argv, root, [root]);
  const port = await waitFor(`${name} to listen`, START_TIMEOUT_MS, () => {
    const match = /listening on \S+:(\d+)/.exec(server.output.text);
    if (match !== null) return Number(match[1]);
    const exited = server.exited();
    if (exited !== null) throw new Error(`${name} ${exited} before listening:\n${server.output.text}`);
    return null;
  });
  return {
    name,
    port,
    isQueue: true,
    reset: async () => {
      const reply = await exchange(port, `flush ${KEY}\r\n`, (text) => text.endsWith("\r\n"));
      if (reply !== "END\r\n") throw new Error(`${name}: unexpected reply to flush: ${JSON.stringify(reply)}`);
    },
    cpuSeconds: () => server.cpuSeconds(),
    notableOutput: () => server.output.text.split("\n").filter((line) => /\b(WARN|ERROR)\b/.test(line)),
    stop: () => server.stop(true),
  };
}

async function startMemcached(): Promise<Target> {
  const name = "memcached -t 1";
  const port = freePort();
  const root = makeTempDir("memcached-bench-");
  const argv = ["memcached", "-t", "1", "-p", String(port), "-l", HOST, "-U", "0", "-m", "1024"];
  if (process.getuid?.() === 0) argv.push("-u", "root");
  const server = ChildServer.spawn(argv, root, [root]);
  await waitFor(`${name} to accept connections`, START_TIMEOUT_MS, async () => {
    const exited = server.exited();
    if (exited !== null) throw new Error(`${name} ${exited}:\n${server.output.text}`);
    return readStats(port).catch(() => null);
  });
  return {
    name,
    port,
    isQueue: false,
    reset: async () => {
      const reply = await exchange(port, `delete ${KEY}\r\n`, (text) => text.endsWith("\r\n"));
      if (reply !== "DELETED\r\n" && reply !== "NOT_FOUND\r\n") throw new Error(`${name}: unexpected reply to delete: ${JSON.stringify(reply)}`);
    },
    cpuSeconds: () => server.cpuSeconds(),
    notableOutput: () => server.output.text.split("\n").filter((line) => line.trim() !== ""),
    // memcached exits on SIGTERM with a non-zero code on some versions; not a problem.
    stop: () => server.stop(false),
  };
}

function freePort(): number {
  const listener = Bun.listen({ hostname: HOST, port: 0, socket: { data: () => {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

function ensureMemcached(): void {
  if (Bun.which("memcached") !== null) return;
  const install = () => Bun.spawnSync(["apt-get", "install", "-y", "memcached"], { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  console.error("memcached is not on PATH; installing it with apt-get");
  if (install().exitCode !== 0) {
    console.error("apt-get install failed; running apt-get update and trying again");
    Bun.spawnSync(["apt-get", "update"], { stdout: "inherit", stderr: "inherit" });
    if (install().exitCode !== 0) throw new Error("could not install memcached with apt-get");
  }
  if (Bun.which("memcached") === null) throw new Error("memcached was installed but is still not on PATH");
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

let clockTicks: number | null = null;

function processCpuSeconds(pid: number): number {
  clockTicks ??= Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return NaN;
  }
}

function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Running one scenario

interface ScenarioResult {
  readonly connections: number;
  readonly seconds: number;
  readonly sets: number;
  readonly gets: number;
  readonly hits: number;
  readonly setMs: readonly number[]; // p50, p99, max
  readonly getMs: readonly number[];
  /** Fractions of one core over the measured window. */
  readonly serverCpu: number;
  readonly benchCpu: number;
  readonly problems: ReadonlyMap<string, number>;
  readonly notes: readonly string[];
}

const PERCENTILES = [0.5, 0.99, 1];

async function runScenario(target: Target, connections: number, settings: Settings, requests: Requests): Promise<ScenarioResult> {
  await target.reset();
  const statsBefore = await readStats(target.port);
  const run = new Run();
  const clients: LoadClient[] = [];
  for (let i = 0; i < connections; i++) {
    clients.push(new LoadClient("set", requests.set, requests.valueBlock, run));
    clients.push(new LoadClient("get", requests.get, requests.valueBlock, run));
  }
  await Promise.all(clients.map((client) => connectClient(target.port, client)));
  const watchdog = setInterval(() => checkStalls(clients, run), 100);
  try {
    for (const client of clients) client.send();
    await Bun.sleep(WARMUP_MS);

    run.phase = "measure";
    const start = { at: performance.now(), server: target.cpuSeconds(), bench: ownCpuSeconds() };
    await Bun.sleep(settings.seconds * 1000);
    run.phase = "drain";
    const seconds = (performance.now() - start.at) / 1000;
    const serverCpu = (target.cpuSeconds() - start.server) / seconds;
    const benchCpu = (ownCpuSeconds() - start.bench) / seconds;

    const drained = await waitFor("replies", DRAIN_TIMEOUT_MS, () => (clients.some((client) => client.busy) ? null : true)).catch(() => false);
    if (!drained) {
      const stuck = clients.filter((client) => client.busy);
      run.problem(`${stuck.length} requests (${stuck.filter((c) => c.role === "set").length} set, ${stuck.filter((c) => c.role === "get").length} get) still unanswered ${DRAIN_TIMEOUT_MS / 1000} s after the window`);
    }
    const notes = drained ? await checkCounters(target, statsBefore, run) : [];
    return {
      connections,
      seconds,
      sets: run.setLatency.length,
      gets: run.getLatency.length,
      hits: run.hits,
      setMs: run.setLatency.percentiles(PERCENTILES),
      getMs: run.getLatency.percentiles(PERCENTILES),
      serverCpu,
      benchCpu,
      problems: run.problems,
      notes,
    };
  } finally {
    clearInterval(watchdog);
    for (const client of clients) client.socket?.end();
  }
}

function checkStalls(clients: readonly LoadClient[], run: Run): void {
  const now = performance.now();
  for (const client of clients) {
    if (!client.busy || client.stallReported || now - client.sentAt < STALL_MS) continue;
    client.stallReported = true;
    run.problem(`${client.role} unanswered for over ${STALL_MS} ms (stall)`);
  }
}

/** Compares the server's counters with what the clients saw; returns notes, adds problems. */
async function checkCounters(target: Target, before: Map<string, number>, run: Run): Promise<string[]> {
  const after = await readStats(target.port);
  const delta = (name: string) => (after.get(name) ?? NaN) - (before.get(name) ?? NaN);
  const expected: Array<[string, number]> = [
    ["cmd_set", run.all.sets],
    ["get_hits", run.all.hits],
    ["get_misses", run.all.misses],
  ];
  for (const [name, seen] of expected) {
    if (delta(name) !== seen) run.problem(`server counted ${name} +${delta(name)}, clients got ${seen} such replies`);
  }
  if (!target.isQueue) return [];
  const left = after.get(`queue_${KEY}_items`) ?? after.get("curr_items") ?? NaN;
  if (left !== run.all.sets - run.all.hits) {
    run.problem(`queue holds ${left} items after the run; sets - hits = ${run.all.sets - run.all.hits} (items lost or duplicated)`);
  }
  const notes = [`${left} items left in the queue`];
  const journal = after.get(`queue_${KEY}_logsize`);
  if (journal !== undefined) notes.push(`journal ${(journal / 1048576).toFixed(1)} MiB`);
  return notes;
}

// ---------------------------------------------------------------------------------------------
// Output

interface TargetSpec {
  readonly label: string;
  readonly start: () => Promise<Target>;
  /** The key consumers get: Kestrel's blocking get, or the plain key. */
  readonly getKey: string;
}

interface TargetResults {
  readonly label: string;
  readonly scenarios: ScenarioResult[];
  readonly problems: string[];
}

const rate = (count: number, seconds: number): string => Math.round(count / seconds).toLocaleString("en-US");
const ms = (value: number | undefined): string => (value === undefined || Number.isNaN(value) ? "-" : value < 10 ? value.toFixed(3) : value.toFixed(1));
const percent = (fraction: number): string => (Number.isNaN(fraction) ? "-" : `${Math.round(fraction * 100)}%`);
const totalRate = (result: ScenarioResult | undefined): number => (result === undefined ? NaN : (result.sets + result.gets) / result.seconds);

function table(header: readonly string[], rows: readonly string[][]): string {
  const align = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

function summaryTable(settings: Settings, results: readonly TargetResults[]): string {
  const memcached = results.find((r) => r.label.startsWith("memcached"));
  const header = ["connections (set+get)", ...results.map((r) => `${r.label} ops/s`), ...results.filter((r) => r !== memcached).map((r) => `${r.label} / memcached`)];
  const rows = settings.scenarios.map((n, i) => {
    const cells = [`${n}+${n}`, ...results.map((r) => Math.round(totalRate(r.scenarios[i])).toLocaleString("en-US"))];
    for (const r of results) {
      if (r === memcached) continue;
      const ratio = totalRate(r.scenarios[i]) / totalRate(memcached?.scenarios[i]);
      cells.push(Number.isFinite(ratio) ? ratio.toFixed(2) : "-");
    }
    return cells;
  });
  return table(header, rows);
}

function detailTable(settings: Settings, results: readonly TargetResults[]): string {
  const header = ["scenario", "target", "set ops/s", "get ops/s", "get hit rate", "total ops/s", "set p50 ms", "set p99 ms", "get p50 ms", "get p99 ms", "max ms set / get", "server CPU", "bench CPU"];
  const rows: string[][] = [];
  settings.scenarios.forEach((n, i) => {
    for (const target of results) {
      const r = target.scenarios[i];
      if (r === undefined) continue;
      rows.push([
        `${n}+${n}`,
        target.label,
        rate(r.sets, r.seconds),
        rate(r.gets, r.seconds),
        percent(r.hits / r.gets),
        rate(r.sets + r.gets, r.seconds),
        ms(r.setMs[0]),
        ms(r.setMs[1]),
        ms(r.getMs[0]),
        ms(r.getMs[1]),
        `${ms(r.setMs[2])} / ${ms(r.getMs[2])}`,
        percent(r.serverCpu),
        percent(r.benchCpu),
      ]);
    }
  });
  return table(header, rows);
}

/** Rows where this process used ~a whole core: there the load generator, not the server, set the pace. */
function saturationNote(settings: Settings, results: readonly TargetResults[]): string {
  const rows = results.flatMap((target) =>
    target.scenarios.flatMap((r, i) => (r.benchCpu >= 0.9 ? [`${target.label} ${settings.scenarios[i]}+${settings.scenarios[i]}`] : [])),
  );
  if (rows.length === 0) return "";
  return ` The load generator used 90% or more of a core in: ${rows.join(", ")}. In those rows it may be the bottleneck, so the server's real ceiling is higher.`;
}

function problemList(settings: Settings, results: readonly TargetResults[]): string {
  const lines: string[] = [];
  for (const target of results) {
    target.scenarios.forEach((r, i) => {
      for (const [problem, count] of r.problems) lines.push(`- ${target.label}, ${settings.scenarios[i]}+${settings.scenarios[i]}: ${problem}${count > 1 ? ` (x${count})` : ""}`);
    });
    for (const problem of target.problems) lines.push(`- ${target.label}: ${problem}`);
  }
  return lines.length === 0 ? "None: every reply was well-formed and the server counters match the clients." : lines.join("\n");
}

function machineInfo(settings: Settings): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "latin1");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown CPU";
  const memcached = Bun.spawnSync(["memcached", "-V"]).stdout.toString().trim();
  return [
    `Machine: ${model}, ${cpus().length} cores, Linux ${release()}, bun ${Bun.version}, ${memcached}.`,
    `Load: ${settings.itemSize}-byte items, ${WARMUP_MS / 1000} s warm-up + ${settings.seconds} s measured per scenario, closed loop over loopback TCP, one load-generator process; data dirs under ${tmpdir()}.`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

async function benchTarget(spec: TargetSpec, settings: Settings): Promise<TargetResults> {
  const requests = buildRequests(settings.itemSize, spec.getKey);
  const target = await spec.start();
  const results: TargetResults = { label: spec.label, scenarios: [], problems: [] };
  try {
    for (const n of settings.scenarios) {
      console.error(`${spec.label}: ${n}+${n} connections, ${settings.seconds} s...`);
      const result = await runScenario(target, n, settings, requests);
      const problems = result.problems.size > 0 ? `; ${result.problems.size} kinds of problem` : "";
      console.error(`  ${Math.round(totalRate(result)).toLocaleString("en-US")} ops/s${result.notes.map((note) => `, ${note}`).join("")}${problems}`);
      results.scenarios.push(result);
    }
    for (const line of target.notableOutput()) results.problems.push(`server log: ${line}`);
  } finally {
    results.problems.push(...(await target.stop()));
  }
  return results;
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  ensureMemcached();
  const queueKey = settings.getWaitMs > 0 ? `${KEY}/t=${settings.getWaitMs}` : KEY;
  const targets: TargetSpec[] = [
    { label: "kestrel", start: () => startKestrel("kestrel", null), getKey: queueKey },
    { label: "kestrel fsync", start: () => startKestrel("kestrel fsync", 'sync_journal = "always"\n'), getKey: queueKey },
    { label: "memcached", start: () => startMemcached(), getKey: KEY },
  ];
  const results: TargetResults[] = [];
  for (const spec of targets) results.push(await benchTarget(spec, settings));

  console.log(`# Throughput: Kestrel vs memcached\n`);
  console.log(`${machineInfo(settings)}\n`);
  console.log(`kestrel = default config (journal on, sync_journal never); kestrel fsync = sync_journal "always"; memcached = \`memcached -t 1\`.`);
  console.log(`Kestrel consumers send \`get ${queueKey}\`; memcached consumers \`get ${KEY}\`.\n`);
  console.log(`## Total ops/s (sets + gets)\n`);
  console.log(`${summaryTable(settings, results)}\n`);
  console.log(`## Details\n`);
  console.log(`${detailTable(settings, results)}\n`);
  console.log(`CPU is a percentage of one core over the measured window.${saturationNote(settings, results)}\n`);
  console.log(`## Problems\n`);
  console.log(problemList(settings, results));
}

process.on("exit", cleanUpNow);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping servers`);
    cleanUpNow();
    process.exit(code);
  });
}

try {
  await main();
} catch (error) {
  const text = error instanceof SettingsError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`bench failed: ${text}`);
  cleanUpNow();
  process.exit(1);
}
