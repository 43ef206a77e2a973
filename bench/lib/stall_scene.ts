/**
 * The stage of one stall scenario: a fresh Kestrel on its own temp dir and config, the probe run
 * around a piece of work, loads run in a child process, the server's stats, and what the scenario
 * found wrong; `playScene` runs a scenario's body on one and makes its row of the report.
 *
 * A scene owns its temp dir (data and config) and its server; `close` stops the server and removes
 * the dir whatever happened, and turns a bad exit, a crash line or an ERROR line of the server's
 * log into problems. A failed check is a problem, not an exception; a body that throws (the server
 * does not start, a load is refused, a request times out) ends its scenario with the reason as its
 * figure, and the benchmark goes on with the next.
 */
import { closeSync, openSync, readSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exchange, readStats } from "./client.ts";
import { KestrelChild } from "./kestrel_child.ts";
import type { BlockedJob } from "./blocked_load.ts";
import { type LoadResult, type SetsJob, runLoad } from "./load_process.ts";
import { type PingFigures, Pinger } from "./ping.ts";
import { MiB, integer } from "./report.ts";
import { makeTempDir, removeTempDir } from "./targets.ts";

/** What the scenarios share: the sizes they use and how they load and probe the server. */
export interface SceneSettings {
  readonly itemSize: number;
  readonly connections: number;
  readonly batch: number;
  /** A probe gap over this many ms counts as a stall. */
  readonly stallMs: number;
  /** The command that runs the server, before its arguments. */
  readonly server: readonly string[];
}

export const progress = (text: string): void => console.error(text);

export class Scene {
  readonly problems: string[] = [];
  /** The WARN lines of the scene's servers, folded by kind (numbers and paths replaced), with their counts. */
  readonly warnings = new Map<string, number>();

  /** ERROR lines the scenario causes on purpose (queue_path deleted, say): listed with the WARN lines, not as problems. */
  readonly expectedErrors: RegExp[] = [];

  /** The server has been stopped for good (`stop`). */
  private stopped = false;

  private constructor(
    readonly name: string,
    readonly settings: SceneSettings,
    private readonly root: string,
    private server: KestrelChild,
  ) {}

  /** A server on a new temp dir with `config` (TOML) as its config file. */
  static async open(name: string, config: string, settings: SceneSettings): Promise<Scene> {
    const root = makeTempDir("kestrel-stalls-");
    writeFileSync(join(root, "kestrel.toml"), config);
    try {
      return new Scene(name, settings, root, await KestrelChild.start(name, root, join(root, "data"), join(root, "kestrel.toml"), settings.server));
    } catch (error) {
      removeTempDir(root);
      throw error;
    }
  }

  get kestrel(): KestrelChild {
    return this.server;
  }

  get port(): number {
    return this.server.port;
  }

  get dataDir(): string {
    return join(this.root, "data");
  }

  get configPath(): string {
    return join(this.root, "kestrel.toml");
  }

  /** Replaces the config file (for a reload or a restart). */
  writeConfig(config: string): void {
    writeFileSync(this.configPath, config);
  }

  /** Stops the server (SIGTERM) and starts a new one on the same data; returns how long the stop took, in ms. */
  async restart(): Promise<number> {
    const stopped = await this.stopServer("before the restart");
    this.server = await KestrelChild.start(`${this.name} (restarted)`, this.root, this.dataDir, this.configPath, this.settings.server);
    return stopped;
  }

  /** Stops the server for good; its log summary (`kestrel.log`) is then complete. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopServer("at the end");
  }

  /** Stops the server if still running and removes the temp dir; the problems are then complete. */
  async close(): Promise<void> {
    try {
      await this.stop();
    } finally {
      removeTempDir(this.root);
    }
  }

  /** Probes the server while `work` runs; the probe's figures and what `work` returned. */
  async probe<T>(work: () => Promise<T>): Promise<{ ping: PingFigures; value: T }> {
    const pinger = await Pinger.start(this.port, this.settings.stallMs);
    const outcome = await work().then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    const ping = await pinger.stop();
    if (ping.failure !== null) this.problems.push(`probe: ${ping.failure}`);
    if ("error" in outcome) throw outcome.error;
    return { ping, value: outcome.value };
  }

  /** `count` sets of the scene's item to `queue` from a load process; checks every one was stored. */
  async fill(queue: string, count: number, exptime = 0): Promise<LoadResult> {
    const result = await this.sets({ queue, count, exptime, itemSize: this.settings.itemSize, connections: this.settings.connections, batch: this.settings.batch, seconds: 0 });
    progress(`  set ${integer(result.items)} items of ${this.settings.itemSize} bytes to '${queue}' in ${(result.ms / 1000).toFixed(1)} s`);
    return result;
  }

  /** A sets job on this server from a load process. */
  sets(job: Omit<SetsJob, "kind" | "port">): Promise<LoadResult> {
    return runLoad({ kind: "sets", port: this.port, ...job });
  }

  /** Reliable reads (open, close) of `queue` until it is empty, from a load process. */
  drain(queue: string): Promise<LoadResult> {
    return runLoad({ kind: "drain", port: this.port, queue, itemSize: this.settings.itemSize, connections: this.settings.connections, batch: this.settings.batch });
  }

  /** A crowd of clients blocked in a get, ended by one set or their timeouts, from a load process (blocked_load.ts). */
  blocked(job: Omit<BlockedJob, "kind" | "port">): Promise<LoadResult> {
    return runLoad({ kind: "blocked", port: this.port, ...job });
  }

  /** The server's numeric stats. */
  stats(): Promise<Map<string, number>> {
    return readStats(this.port);
  }

  /** Sends `get <name>` for every name on one connection: each creates its queue (a fanout child, say). */
  async createQueues(names: readonly string[]): Promise<void> {
    const ends = (text: string) => text.split("END\r\n").length - 1;
    const reply = await exchange(this.port, names.map((name) => `get ${name}\r\n`).join(""), (text) => ends(text) >= names.length || /ERROR/.test(text));
    if (ends(reply) !== names.length) throw new Error(`creating queues: ${reply.trim().slice(0, 200)}`);
  }

  /** Polls stat `name` until it reads 0; returns when it first did (epoch ms), or NaN and a problem after `timeoutMs`. */
  async waitForZero(name: string, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const value = await this.stats()
        .then((stats) => stats.get(name))
        .catch(() => undefined);
      if (value === 0) return Date.now();
      await Bun.sleep(100);
    }
    this.problems.push(`${name} did not reach 0 within ${timeoutMs / 1000} s`);
    return NaN;
  }

  /** Reads every file of the data dir with one reused 1 MiB buffer: the raw read speed of the journal's bytes. */
  readDataDir(): { bytes: number; ms: number } {
    const buffer = Buffer.alloc(MiB);
    const began = performance.now();
    let bytes = 0;
    for (const entry of readdirSync(this.dataDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const fd = openSync(join(entry.parentPath, entry.name), "r");
      try {
        for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) bytes += n;
      } finally {
        closeSync(fd);
      }
    }
    return { bytes, ms: performance.now() - began };
  }

  /** A problem if stat `name` is not `expected` now; returns the value. */
  async expectStat(name: string, expected: number): Promise<number> {
    const value = (await this.stats()).get(name) ?? NaN;
    if (value !== expected) this.problems.push(`${name} is ${integer(value)}, expected ${integer(expected)}`);
    return value;
  }

  /** Stops the server, noting a bad exit and the crash and ERROR lines of its log; returns how long the stop took. */
  private async stopServer(when: string): Promise<number> {
    const { ms, problems } = await this.server.stop();
    this.problems.push(...problems.map((problem) => `${when}: ${problem}`));
    const log = this.server.log;
    this.problems.push(...log.crashes.map((line) => `server log: ${line}`));
    for (const [kind, count] of log.kinds) {
      if (kind.startsWith("ERROR") && !this.expectedErrors.some((expected) => expected.test(kind))) this.problems.push(`server log: ${kind}${count > 1 ? ` (x${integer(count)})` : ""}`);
      else this.warnings.set(kind, (this.warnings.get(kind) ?? 0) + count);
    }
    return ms;
  }
}

/** One row of the report: a measured event. */
export interface StallRow {
  readonly id: string;
  readonly scenario: string;
  /** What was done while the probe watched. */
  readonly done: string;
  /** Null when the scenario failed before its probe ended. */
  readonly ping: PingFigures | null;
  /** The scenario's own measure (time, rate, log lines). */
  readonly figure: string;
  readonly problems: readonly string[];
  /** WARN lines the servers logged, folded by kind, with counts. */
  readonly warnings: ReadonlyMap<string, number>;
}

/** What a scenario body measured. */
export interface Outcome {
  readonly done: string;
  readonly ping: PingFigures;
  readonly figure: string;
}

/** Runs `body` on a fresh scene with `config` and makes its row; a failure becomes a problem, and its reason the row's figure. */
export async function playScene(id: string, scenario: string, config: string, settings: SceneSettings, body: (scene: Scene) => Promise<Outcome>): Promise<StallRow> {
  progress(`scenario ${id}: ${scenario}`);
  const problems: string[] = [];
  let outcome: Omit<Outcome, "ping"> & { ping: PingFigures | null } = { done: "-", ping: null, figure: "-" };
  let scene: Scene | null = null;
  try {
    scene = await Scene.open(`kestrel (scenario ${id})`, config, settings);
    outcome = await body(scene);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    outcome = { ...outcome, figure: `failed: ${reason}` };
    problems.push(`failed: ${reason}`);
    const exited = scene?.kestrel.exited() ?? null;
    if (exited !== null) problems.push(`the server ${exited} during the scenario`);
  } finally {
    await scene?.close();
  }
  problems.push(...(scene?.problems ?? []));
  const row: StallRow = { id, scenario, ...outcome, problems, warnings: scene?.warnings ?? new Map() };
  const ping = row.ping === null ? "no probe figures" : `${integer(row.ping.sent)} pings, worst gap ${row.ping.worstGapMs.toFixed(1)} ms, p99 ${row.ping.p99GapMs.toFixed(1)} ms`;
  progress(`  ${ping}; ${row.figure}${problems.length > 0 ? `; problems: ${problems.join("; ")}` : ""}`);
  return row;
}
