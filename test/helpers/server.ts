/**
 * Runs a real kestrel server process for integration tests: port 0 on loopback, a temp data
 * directory, and stop (SIGTERM) or kill -9 on demand. The server's log can be awaited line by
 * line, so tests wait for events instead of sleeping.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestClient } from "./client.ts";
import type { Fault } from "./faulty_fs.ts";

/** The server's entry point, run as `[process.execPath, MAIN, ...args]`. */
export const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

/** Every process started (servers, kestrel commands) and not yet ended; a failing test must not leave one running. */
const running = new Set<ReturnType<typeof Bun.spawn>>();

/** Temp directories `start` made (data and config); a server started in `beforeAll` may need them until the end. */
const madeDirs = new Set<string>();

function makeDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.add(dir);
  return dir;
}

/**
 * Kills every server still running and removes the temp directories `start` made (test/setup.ts
 * calls it after the last test).
 */
export function cleanUpServers(): void {
  for (const proc of running) proc.kill("SIGKILL");
  running.clear();
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
  madeDirs.clear();
}

/** A port that was free a moment ago, for a server that must be told its port in advance. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

export interface KestrelRun {
  /** What it writes to stderr, awaitable line by line while it runs. */
  readonly stderr: LogCapture;
  /** What it wrote and its exit code, once it has ended. */
  readonly finished: Promise<{ stdout: string; stderr: string; code: number }>;
}

/** Starts `kestrel args` (from `cwd`, with `env` added to the environment); a test can wait on its stderr while it runs. */
export function spawnKestrel(args: readonly string[], cwd?: string, env: Readonly<Record<string, string>> = {}): KestrelRun {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", cwd, env: { ...process.env, ...env } });
  running.add(proc);
  const stderr = new LogCapture(proc.stderr as ReadableStream<Uint8Array>);
  const finished = (async () => {
    const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited, stderr.done]);
    running.delete(proc);
    return { stdout, stderr: stderr.text, code };
  })();
  return { stderr, finished };
}

/** Runs `kestrel args` (from `cwd`) to the end and collects what it wrote. */
export function runKestrel(args: readonly string[], cwd?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return spawnKestrel(args, cwd).finished;
}

export interface ServerOptions {
  /** TOML text for a config file (written to `configPath`, or a temp file). */
  readonly config?: string;
  readonly configPath?: string;
  readonly dataDir?: string;
  readonly args?: readonly string[];
  /** Injected file-system faults, read from this file (see `setFaults`). */
  readonly faultsFile?: string;
  /** A wall clock that jumps: its offset from the real one is read from this file (see `setWallClockOffset`). */
  readonly wallClockFile?: string;
  /** Another module to run before the server (`bun --preload`), e.g. BUG_PRELOAD. */
  readonly preload?: string;
  /** Variables added to the server's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

export const FAULTS_PRELOAD = join(import.meta.dir, "faulty_fs_preload.ts");
export const WALL_CLOCK_PRELOAD = join(import.meta.dir, "wall_clock_preload.ts");
export const BUG_PRELOAD = join(import.meta.dir, "bug_preload.ts");

/** Collects a child's stderr and lets callers wait for a pattern to appear in it. */
export class LogCapture {
  text = "";
  private wake: (() => void) | null = null;
  /** The stream has ended: nothing more will be logged. */
  private ended = false;
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.text += decoder.decode(chunk);
        this.notify();
      }
      this.ended = true;
      this.notify();
    })();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * Resolves when `pattern` matches what was logged after `since` characters; throws once the
   * stream has ended without it.
   */
  async waitFor(pattern: RegExp, since = 0): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.text.slice(since));
      if (match !== null) return match;
      if (this.ended) throw new Error(`server exited without logging ${pattern}:\n${this.text}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

export class ServerProcess {
  private constructor(
    readonly proc: ReturnType<typeof Bun.spawn>,
    readonly port: number,
    readonly dataDir: string,
    private readonly options: ServerOptions,
    private readonly log: LogCapture,
  ) {}

  /** Everything the server wrote to stderr so far. */
  get output(): string {
    return this.log.text;
  }

  static async start(options: ServerOptions = {}): Promise<ServerProcess> {
    const dataDir = options.dataDir ?? makeDir("kestrel-test-");
    const preload = [
      ...(options.faultsFile === undefined ? [] : ["--preload", FAULTS_PRELOAD]),
      ...(options.wallClockFile === undefined ? [] : ["--preload", WALL_CLOCK_PRELOAD]),
      ...(options.preload === undefined ? [] : ["--preload", options.preload]),
    ];
    const args = [process.execPath, ...preload, MAIN, "--host", "127.0.0.1", "--port", "0", "--data", dataDir];
    if (options.config !== undefined) {
      const configPath = options.configPath ?? join(makeDir("kestrel-conf-"), "kestrel.toml");
      writeFileSync(configPath, options.config);
      args.push("--config", configPath);
    }
    args.push(...(options.args ?? []));
    const env = { ...process.env, ...options.env };
    if (options.faultsFile !== undefined) env.KESTREL_FAULTS_FILE = options.faultsFile;
    if (options.wallClockFile !== undefined) env.KESTREL_WALL_CLOCK_FILE = options.wallClockFile;
    const proc = Bun.spawn(args, { stdout: "ignore", stderr: "pipe", stdin: "ignore", env });
    running.add(proc);
    void proc.exited.then(() => running.delete(proc));
    const log = new LogCapture(proc.stderr as ReadableStream<Uint8Array>);
    const match = await log.waitFor(/listening on [^\s]+:(\d+)/);
    return new ServerProcess(proc, Number(match[1]), dataDir, options, log);
  }

  client(): Promise<TestClient> {
    return TestClient.connect(this.port);
  }

  /** A client of the text protocol's port, of a server started with `text_port` set. */
  async textClient(): Promise<TestClient> {
    const match = await this.waitForLog(/text protocol on [^\s]+:(\d+)/);
    return TestClient.connect(Number(match[1]));
  }

  /**
   * Resolves when the server's log matches `pattern`, looking only at what was logged after
   * `since` characters (take `output.length` before causing the event you wait for).
   */
  waitForLog(pattern: RegExp, since = 0): Promise<RegExpExecArray> {
    return this.log.waitFor(pattern, since);
  }

  /** `127.0.0.1:<port>` of the admin HTTP port of a server started with `admin_port = 0`. */
  async adminAddress(): Promise<string> {
    return (await this.waitForLog(/admin HTTP on http:\/\/([^ ]+) /))[1]!;
  }

  /** Puts `faults` in force in a server started with `faultsFile` (an empty list clears them). */
  async setFaults(faults: readonly Fault[]): Promise<void> {
    const file = this.options.faultsFile;
    if (file === undefined) throw new Error("this server was started without faultsFile");
    writeFileSync(file, JSON.stringify(faults));
    const mark = this.output.length;
    this.proc.kill("SIGUSR2");
    await this.waitForLog(new RegExp(`test faults: ${faults.length} set`), mark);
  }

  /** Sets the wall clock of a server started with `wallClockFile` `offsetMs` off the real one. */
  async setWallClockOffset(offsetMs: number): Promise<void> {
    const file = this.options.wallClockFile;
    if (file === undefined) throw new Error("this server was started without wallClockFile");
    writeFileSync(file, String(offsetMs));
    const mark = this.output.length;
    this.proc.kill("SIGUSR1");
    await this.waitForLog(new RegExp(`test wall clock: ${offsetMs} ms`), mark);
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(): Promise<number> {
    this.proc.kill("SIGTERM");
    return this.exited();
  }

  async kill9(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.exited();
  }

  /** Waits for the process to end (after a signal or a `shutdown`); returns the exit code. */
  async exited(): Promise<number> {
    const code = await this.proc.exited;
    await this.log.done;
    return code;
  }

  /** A new server on the same data directory (this one must be stopped or killed). */
  restart(options: ServerOptions = {}): Promise<ServerProcess> {
    return ServerProcess.start({ ...this.options, ...options, dataDir: this.dataDir });
  }

  removeData(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * One server for every test of a file: started before the first, stopped after the last (its exit
 * status checked: 0) and its data removed. Returns how to reach it from inside a test.
 */
export function serverForFile(options: ServerOptions = {}): () => ServerProcess {
  let server: ServerProcess | null = null;
  beforeAll(async () => {
    server = await ServerProcess.start(options);
  });
  afterAll(async () => {
    expect(await server!.stop()).toBe(0);
    server!.removeData();
  });
  return () => server!;
}
