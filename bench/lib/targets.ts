/**
 * The servers the benchmarks measure, as child processes with a common `Target` interface, and
 * the clean-up that stops them and removes their temp dirs on every exit path.
 *
 *   kestrel       src/main.ts on a fresh temp data dir (default config, or a given config file)
 *   bun floor     bench/floor_server.ts: Kestrel's parser and outbox, no queue, no journal
 *   memcached     `memcached -t 1` on a free loopback port
 *   redis         `redis-server` with an append-only file (`appendfsync` everysec or always) in a
 *                 temp dir, on a free loopback port, every setting on the command line
 *   beanstalkd    `beanstalkd -b <temp dir>` (its binlog; fsync at most every 50 ms, its default)
 *
 * A server missing from PATH is installed first (apt_install.ts). Every child is registered in `children` and every temp dir in
 * `tempDirs` as soon as it exists; `cleanUpNow` (called on exit, on signals and on failure) kills
 * what is left and removes them.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type ChildOutput, FileOutput, PipeOutput } from "./child_output.ts";
import { exchange, readStats, waitFor, within } from "./client.ts";
import { processCpuSeconds } from "./cpu_time.ts";
import { HOST, KEY } from "./protocol.ts";

const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");
const FLOOR = join(import.meta.dir, "..", "floor_server.ts");
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/** The wire protocol a target speaks, named as the native load generator names it. */
export type TargetProtocol = "memcache" | "redis" | "beanstalk";

export interface Target {
  readonly port: number;
  readonly protocol: TargetProtocol;
  /** A queue (items are consumed) rather than a cache or a fixed answer. */
  readonly isQueue: boolean;
  /** Removes whatever the previous run left under the key. */
  reset(): Promise<void>;
  /** Removes queues a run used (their items, journals, keys); a no-op where nothing of them stays. */
  dropQueues(names: readonly string[]): Promise<void>;
  /** CPU seconds the server process has used so far. */
  cpuSeconds(): number;
  /** Log lines worth reporting (warnings, errors). */
  notableOutput(): string[];
  /** Stops the server; returns problems (a bad exit code, a forced kill). */
  stop(): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------
// Child processes and temp dirs, cleaned up on every exit path

const children = new Set<Subprocess>();
const tempDirs = new Set<string>();

/** Kills every child still running and removes every temp dir; safe to call more than once. */
export function cleanUpNow(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Registers a child process so that `cleanUpNow` kills it if it is still running; returns it. */
export function trackChild<T extends Subprocess>(proc: T): T {
  children.add(proc);
  void proc.exited.then(() => children.delete(proc));
  return proc;
}

/** A new temp dir under TMPDIR, removed by `cleanUpNow` unless removed (and forgotten) earlier. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Removes a dir made by `makeTempDir` now. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** A server child process; stopping it removes `dirs` (pass none to keep a data dir for a restart). */
export class ChildServer {
  private constructor(
    readonly proc: Subprocess,
    readonly output: ChildOutput,
    private readonly dirs: readonly string[],
  ) {}

  /** Runs `argv` from `cwd`; its stderr goes to `logFile` if given (stdout is then ignored), else both are read from pipes. */
  static spawn(argv: string[], cwd: string, dirs: readonly string[], logFile: string | null = null): ChildServer {
    if (logFile !== null) {
      const proc = trackChild(Bun.spawn(argv, { cwd, stdin: "ignore", stdout: "ignore", stderr: Bun.file(logFile) }));
      return new ChildServer(proc, new FileOutput(logFile, proc.exited), dirs);
    }
    const proc = trackChild(Bun.spawn(argv, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
    return new ChildServer(proc, new PipeOutput(proc.stdout, proc.stderr), dirs);
  }

  exited(): string | null {
    return this.proc.exitCode === null && this.proc.signalCode === null ? null : `exited (${this.proc.exitCode ?? this.proc.signalCode})`;
  }

  cpuSeconds(): number {
    return processCpuSeconds(this.proc.pid);
  }

  /** The lines of the child's output that match `pattern`. */
  logLines(pattern: RegExp): string[] {
    return this.output.text.split("\n").filter((line) => pattern.test(line));
  }

  /** The port from the child's `listening on <host>:<port>` log line, once it appears. */
  waitForListening(name: string, timeoutMs = START_TIMEOUT_MS): Promise<number> {
    return waitFor(`${name} to listen`, timeoutMs, () => {
      const match = /listening on \S+:(\d+)/.exec(this.output.text);
      if (match !== null) return Number(match[1]);
      const exited = this.exited();
      if (exited !== null) throw new Error(`${name} ${exited} before listening:\n${this.output.text}`);
      return null;
    });
  }

  async stop(expectZeroExit: boolean, timeoutMs = STOP_TIMEOUT_MS): Promise<string[]> {
    const problems: string[] = [];
    if (this.exited() !== null) problems.push(`server ${this.exited()} before the end of the benchmark`);
    this.proc.kill("SIGTERM");
    const code = await within(this.proc.exited, timeoutMs, "the server to exit").catch(() => null);
    if (code === null) {
      problems.push(`server did not exit within ${timeoutMs / 1000} s of SIGTERM; killed`);
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    } else if (expectZeroExit && code !== 0) {
      problems.push(`server exited with code ${code} after SIGTERM`);
    }
    await this.output.done;
    for (const dir of this.dirs) removeTempDir(dir);
    return problems;
  }
}

/** A Kestrel server's WARN and ERROR log lines. */
export function warningsAndErrors(server: ChildServer): string[] {
  return server.logLines(/\b(WARN|ERROR)\b/);
}

// ---------------------------------------------------------------------------------------------
// The targets

/** The command that runs Kestrel from source (src/main.ts) on this bun, before its arguments. */
export const KESTREL_FROM_SOURCE: readonly string[] = [process.execPath, MAIN];

/** `command` (a Kestrel) with the arguments to listen on any free loopback port, keep its data in `dataDir` and read `configPath` if given. */
export function kestrelArgv(command: readonly string[], dataDir: string, configPath: string | null): string[] {
  const argv = [...command, "--host", HOST, "--port", "0", "--data", dataDir];
  if (configPath !== null) argv.push("--config", configPath);
  return argv;
}

export async function startKestrel(name: string, configToml: string | null): Promise<Target> {
  const root = makeTempDir("kestrel-bench-");
  let configPath: string | null = null;
  if (configToml !== null) {
    configPath = join(root, "kestrel.toml");
    writeFileSync(configPath, configToml);
  }
  // cwd = the temp dir, so a kestrel.toml in the caller's directory can't change the defaults.
  const server = ChildServer.spawn(kestrelArgv(KESTREL_FROM_SOURCE, join(root, "data"), configPath), root, [root]);
  const port = await server.waitForListening(name);
  return {
    port,
    protocol: "memcache",
    isQueue: true,
    reset: async () => {
      const reply = await exchange(port, `flush ${KEY}\r\n`, (text) => text.endsWith("\r\n"));
      if (reply !== "END\r\n") throw new Error(`${name}: unexpected reply to flush: ${JSON.stringify(reply)}`);
    },
    dropQueues: (names) => expectLines(name, port, names.map((queue) => `delete ${queue}\r\n`).join(""), names.map(() => "DELETED")),
    cpuSeconds: () => server.cpuSeconds(),
    notableOutput: () => warningsAndErrors(server),
    stop: () => server.stop(true),
  };
}

/** bench/floor_server.ts; it keeps one item per queue name and can't drop them: reset and dropQueues are no-ops. */
export async function startFloor(name: string): Promise<Target> {
  const server = ChildServer.spawn([process.execPath, FLOOR, "0"], import.meta.dir, []);
  const port = await server.waitForListening(name);
  return {
    port,
    protocol: "memcache",
    isQueue: false,
    reset: async () => {},
    dropQueues: async () => {},
    cpuSeconds: () => server.cpuSeconds(),
    notableOutput: () => server.output.text.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("listening on")),
    stop: () => server.stop(true),
  };
}

export async function startMemcached(name: string): Promise<Target> {
  const asRoot = process.getuid?.() === 0 ? ["-u", "root"] : [];
  const argv = (port: number) => ["memcached", "-t", "1", "-p", String(port), "-l", HOST, "-U", "0", "-m", "1024", ...asRoot];
  const { server, port } = await startOnFreePort(name, argv, (port) => readStats(port));
  const deleteKeys = (keys: readonly string[]) =>
    expectLines(name, port, keys.map((key) => `delete ${key}\r\n`).join(""), keys.map(() => /^(DELETED|NOT_FOUND)$/));
  return {
    port,
    protocol: "memcache",
    isQueue: false,
    reset: () => deleteKeys([KEY]),
    dropQueues: deleteKeys,
    cpuSeconds: () => server.cpuSeconds(),
    notableOutput: () => server.output.text.split("\n").filter((line) => line.trim() !== ""),
    // memcached exits on SIGTERM with a non-zero code on some versions; not a problem.
    stop: () => server.stop(false),
  };
}

export type RedisSync = "everysec" | "always";

/** `redis-server` with its append-only file fsynced `sync`, every setting on the command line. */
export async function startRedis(name: string, sync: RedisSync): Promise<Target> {
  const argv = (port: number, dir: string) =>
    ["redis-server", "--port", String(port), "--bind", HOST, "--dir", dir, "--appendonly", "yes", "--appendfsync", sync, "--save", "", "--daemonize", "no"];
  const { server, port } = await startOnFreePort(name, argv, (port) => exchange(port, "PING\r\n", (text) => text.endsWith("\r\n")));
  const deleteKeys = (keys: readonly string[]) => expectLines(name, port, `DEL ${keys.join(" ")}\r\n`, [/^:\d+$/]);
  return {
    port,
    protocol: "redis",
    isQueue: true,
    reset: () => deleteKeys([KEY]),
    dropQueues: deleteKeys,
    cpuSeconds: () => server.cpuSeconds(),
    // Warnings ("#") once it is ready; the ones at start-up are about the host (overcommit, THP).
    notableOutput: () => server.output.text.split("Ready to accept connections")[1]?.split("\n").filter((line) => / # /.test(line)) ?? [],
    stop: () => server.stop(true),
  };
}

/** The largest job beanstalkd accepts here (its default is 65535 bytes, less than a 64 KiB item). */
const BEANSTALKD_MAX_JOB_BYTES = 16 << 20;

/** `beanstalkd` with its binlog in a temp dir. Tubes need no dropping: an empty, unwatched tube goes away. */
export async function startBeanstalkd(name: string): Promise<Target> {
  const argv = (port: number, dir: string) => ["beanstalkd", "-l", HOST, "-p", String(port), "-b", dir, "-z", String(BEANSTALKD_MAX_JOB_BYTES)];
  const { server, port } = await startOnFreePort(name, argv, (port) => exchange(port, "stats\r\n", (text) => text.includes("\r\n")));
  return {
    port,
    protocol: "beanstalk",
    isQueue: true,
    reset: async () => {},
    dropQueues: async () => {},
    cpuSeconds: () => server.cpuSeconds(),
    notableOutput: () => server.output.text.split("\n").filter((line) => line.trim() !== ""),
    // beanstalkd has no SIGTERM handler: it dies of the signal, which is its normal stop.
    stop: () => server.stop(false),
  };
}

/** Sends `requests` and checks that the reply is one line per pattern, each matching (a string must match exactly). */
async function expectLines(name: string, port: number, requests: string, patterns: ReadonlyArray<string | RegExp>): Promise<void> {
  const reply = await exchange(port, requests, (text) => text.split("\r\n").length > patterns.length);
  const lines = reply.split("\r\n").slice(0, -1);
  const fits = lines.length === patterns.length && lines.every((line, i) => (typeof patterns[i] === "string" ? line === patterns[i] : patterns[i]!.test(line)));
  if (!fits) throw new Error(`${name}: unexpected reply to ${JSON.stringify(requests.slice(0, 200))}: ${JSON.stringify(reply.slice(0, 200))}`);
}

/**
 * Runs `argv(port, dir)` (a server told its port) on a free loopback port, from a temp dir that is
 * removed when it stops, and waits until `probe(port)` gets a reply; throws if it exits first or
 * takes too long.
 */
async function startOnFreePort(
  name: string,
  argv: (port: number, dir: string) => string[],
  probe: (port: number) => Promise<unknown>,
): Promise<{ server: ChildServer; port: number }> {
  const port = freePort();
  const root = makeTempDir(`${name.replace(/\W+/g, "-")}-bench-`);
  const server = ChildServer.spawn(argv(port, root), root, [root]);
  await waitFor(`${name} to accept connections`, START_TIMEOUT_MS, async () => {
    const exited = server.exited();
    if (exited !== null) throw new Error(`${name} ${exited}:\n${server.output.text}`);
    return probe(port).catch(() => null);
  });
  return { server, port };
}

function freePort(): number {
  const listener = Bun.listen({ hostname: HOST, port: 0, socket: { data: () => {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
