/**
 * A Kestrel server process for the scenario benchmarks (backlog, stalls): started on a data dir the
 * caller owns (kept when it stops, so a restart can replay it), with the times of its start read
 * from its own log, its memory and open files from /proc, and a timed stop.
 *
 * Its log goes to a file in the caller's dir (`kestrel-<n>.log`), never to a pipe: writing a flood
 * of lines then costs the server only its own writes, whatever this process is busy with, and no
 * line is lost to a full pipe. The process is a `ChildServer`, so `cleanUpNow` kills it on every
 * exit path; the dir, log files included, is the caller's to remove.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openDescriptors } from "./process_readings.ts";
import { type LogSummary, type Startup, startupTimes } from "./server_log.ts";
import { SettingsError } from "./settings.ts";
import { ChildServer, KESTREL_FROM_SOURCE, kestrelArgv, warningsAndErrors } from "./targets.ts";

/** Replaying a big journal on a slow disk can take a while. */
const START_TIMEOUT_MS = 300_000;
/** Closing a big journal may flush a lot of page cache first. */
const STOP_TIMEOUT_MS = 120_000;

/** Servers started so far, to name their log files. */
let started = 0;

export interface Memory {
  /** VmRSS, bytes. */
  readonly rss: number;
  /** VmHWM (peak RSS), bytes. */
  readonly peak: number;
}

/** The command that runs the server: BENCH_SERVER (an executable such as dist/kestrel), else src/main.ts on this bun. */
export function serverCommand(executable: string | undefined): readonly string[] {
  if (executable === undefined || executable === "") return KESTREL_FROM_SOURCE;
  const path = resolve(executable);
  if (!existsSync(path)) throw new SettingsError(`BENCH_SERVER: no such file: ${path} (build it with \`bun run build\`)`);
  return [path];
}

export class KestrelChild {
  private constructor(
    private readonly child: ChildServer,
    readonly port: number,
    readonly startup: Startup,
  ) {}

  /** Starts `command` on `dataDir` with the config file `configPath`, from `cwd` (where its log file goes), and waits until it listens. */
  static async start(name: string, cwd: string, dataDir: string, configPath: string, command: readonly string[]): Promise<KestrelChild> {
    const spawnedAt = Date.now();
    const child = ChildServer.spawn(kestrelArgv(command, dataDir, configPath), cwd, [], join(cwd, `kestrel-${++started}.log`));
    const port = await child.waitForListening(name, START_TIMEOUT_MS);
    return new KestrelChild(child, port, startupTimes(child.output.text, spawnedAt));
  }

  get pid(): number {
    return this.child.proc.pid;
  }

  memory(): Memory {
    const status = readFileSync(`/proc/${this.pid}/status`, "latin1");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  }

  /** File descriptors the server has open (sockets, journals), or NaN once it is gone. */
  openDescriptors(): number {
    return openDescriptors(this.pid);
  }

  cpuSeconds(): number {
    return this.child.cpuSeconds();
  }

  /** Why the process is gone (`exited (1)`), or null while it runs. */
  exited(): string | null {
    return this.child.exited();
  }

  /** Lines of the recent log (the last 500 KB at least) that match `pattern`. */
  logLines(pattern: RegExp): string[] {
    return this.child.logLines(pattern);
  }

  /** WARN, ERROR and crash lines counted over everything the server logged so far, however much. */
  get log(): LogSummary {
    return this.child.output.summary;
  }

  warningsAndErrors(): string[] {
    return warningsAndErrors(this.child);
  }

  /** SIGTERM; returns the time until the process exited and any trouble (bad exit, forced kill). */
  async stop(): Promise<{ ms: number; problems: string[] }> {
    const began = performance.now();
    const problems = await this.child.stop(true, STOP_TIMEOUT_MS);
    return { ms: performance.now() - began, problems };
  }
}
