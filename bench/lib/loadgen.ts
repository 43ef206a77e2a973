/**
 * The native load generator (bench/loadgen/loadgen.c) seen from TypeScript: `ensureLoadgen`
 * builds it with the system C compiler on first use and again whenever the source is newer than
 * the binary (installing build-essential with apt-get when there is no `cc`); `runLoadgen` runs it
 * against a port and returns its one JSON object, parsed field by field (`parseLoadgenOutput`).
 *
 * Invariants: the binary is compiled under a temporary name and renamed into place, so a build
 * running beside another, or beside a run, never leaves a half-written file to execute; a result
 * is returned only when every field is present with its type and the exit status agrees with the
 * error count, otherwise a LoadgenError names what is wrong and shows the output.
 */
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureCommand } from "./apt_install.ts";
import { trackChild, type TargetProtocol } from "./targets.ts";

const SOURCE = join(import.meta.dir, "..", "loadgen", "loadgen.c");
/** Where the built generator goes (ignored by git). */
export const LOADGEN_BINARY = join(import.meta.dir, "..", "loadgen", "loadgen");
const COMPILE = ["cc", "-O2", "-std=c11", "-Wall", "-Wextra", "-pthread"];

export class LoadgenError extends Error {}

export interface LoadgenOptions {
  readonly port: number;
  readonly protocol: TargetProtocol;
  readonly producers: number;
  readonly consumers: number;
  readonly queues: number;
  /** Queue names are this, or `<prefix>_<i>` with several queues. */
  readonly queuePrefix: string;
  readonly itemSize: number;
  /** Puts per write. */
  readonly pipeline: number;
  /** Reliable reads (memcache only): `get q/close/open`. */
  readonly reliable: boolean;
  /** How long a take waits for an item; 0: takes that return at once (polling). */
  readonly waitMs: number;
  /** The measured window: so many seconds, or until so many items were produced and consumed. */
  readonly window: { readonly seconds: number } | { readonly items: number };
  readonly warmupSeconds: number;
  /** "queue": items are handed out once, in order, and all accounted for; "cache": only their form is checked. */
  readonly check: "queue" | "cache";
  readonly threads: number;
}

/** Latency of one side in microseconds, from the write of a request to its complete reply. */
export interface Latency {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** What the generator reports; counts and latencies are of the measured window unless named total. */
export interface LoadgenResult {
  readonly wallSeconds: number;
  /** The generator's own CPU over the window, all its threads. */
  readonly cpuUserSeconds: number;
  readonly cpuSystemSeconds: number;
  readonly produced: number;
  readonly consumed: number;
  /** Takes that came back empty. */
  readonly misses: number;
  readonly producedPerSecond: number;
  readonly consumedPerSecond: number;
  readonly put: Latency;
  readonly take: Latency;
  readonly totalAcknowledged: number;
  /** Puts written but never acknowledged (their connection failed or stalled). */
  readonly totalUnacknowledged: number;
  readonly totalConsumed: number;
  /** With check "queue": every consumer found its queue empty after the last put. */
  readonly drained: boolean;
  /** Acknowledged items never consumed; null when that can't be known (no complete drain, a failed connection). */
  readonly lost: number | null;
  readonly failedConnections: number;
  readonly errors: number;
  /** The first few errors, as the generator printed them. */
  readonly errorSamples: readonly string[];
}

export interface LoadgenRun {
  readonly result: LoadgenResult;
  /** CPU seconds the generator process used from start to exit (set-up, warm-up and drain included). */
  readonly cpuSeconds: number;
  readonly stderr: string;
}

/** The queues a run with this prefix uses, named as the generator names them. */
export function queueNames(prefix: string, queues: number): string[] {
  return queues === 1 ? [prefix] : Array.from({ length: queues }, (_, i) => `${prefix}_${i}`);
}

/**
 * What is wrong with a run, one line each: errors (with the generator's first messages), failed
 * connections, puts never acknowledged, a side that moved nothing, and on a queue a drain that
 * did not finish (so lost items could not be counted).
 */
export function problemsOf(result: LoadgenResult, load: { readonly queue: boolean; readonly producers: number; readonly consumers: number }): string[] {
  const problems: string[] = [];
  if (result.errors > 0) problems.push(`${result.errors} errors, first: ${result.errorSamples.join(" / ")}`);
  if (result.failedConnections > 0) problems.push(`${result.failedConnections} connections failed`);
  if (result.totalUnacknowledged > 0) problems.push(`${result.totalUnacknowledged} puts were never acknowledged`);
  if (load.producers > 0 && result.produced === 0) problems.push("no put was acknowledged in the measured window");
  if (load.consumers > 0 && load.producers > 0 && result.consumed === 0) problems.push("no item was consumed in the measured window");
  if (load.queue && load.consumers > 0 && !result.drained) problems.push("the queues were not drained after the window, so lost items could not be counted");
  return problems;
}

/** The command-line arguments for `options`. */
export function loadgenArgs(options: LoadgenOptions): string[] {
  const args = [
    ...["--port", String(options.port), "--protocol", options.protocol],
    ...["--producers", String(options.producers), "--consumers", String(options.consumers)],
    ...["--queues", String(options.queues), "--queue-prefix", options.queuePrefix, "--size", String(options.itemSize)],
    ...["--pipeline", String(options.pipeline), "--wait-ms", String(options.waitMs), "--warmup", String(options.warmupSeconds)],
    ...["--check", options.check, "--threads", String(options.threads)],
  ];
  if (options.reliable) args.push("--reliable");
  if ("items" in options.window) args.push("--items", String(options.window.items));
  else args.push("--seconds", String(options.window.seconds));
  return args;
}

/** The generator's path, built (or rebuilt, if the source is newer) first. Throws a LoadgenError if it can't be built. */
export function ensureLoadgen(): string {
  if (existsSync(LOADGEN_BINARY) && statSync(LOADGEN_BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return LOADGEN_BINARY;
  ensureCommand("cc", "build-essential");
  const temp = `${LOADGEN_BINARY}.${process.pid}.tmp`;
  const build = Bun.spawnSync([...COMPILE, "-o", temp, SOURCE], { stdout: "pipe", stderr: "pipe" });
  const output = `${build.stdout.toString()}${build.stderr.toString()}`.trim();
  if (build.exitCode !== 0) {
    rmSync(temp, { force: true });
    throw new LoadgenError(`${COMPILE.join(" ")} failed on ${SOURCE}:\n${output}`);
  }
  if (output !== "") console.error(`building the load generator:\n${output}`);
  renameSync(temp, LOADGEN_BINARY);
  return LOADGEN_BINARY;
}

/** Runs the generator at `binary` to the end. Throws a LoadgenError if it fails to run or its output is not a result. */
export async function runLoadgen(binary: string, options: LoadgenOptions): Promise<LoadgenRun> {
  const proc = trackChild(Bun.spawn([binary, ...loadgenArgs(options)], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (exitCode !== 0 && exitCode !== 1) throw new LoadgenError(`the load generator exited with ${exitCode}: ${stderr.trim()}`);
  const result = parseLoadgenOutput(stdout);
  if ((exitCode === 1) !== result.errors > 0) throw new LoadgenError(`the load generator exited with ${exitCode} but reports ${result.errors} errors`);
  const usage = proc.resourceUsage();
  return { result, cpuSeconds: usage === undefined ? NaN : Number(usage.cpuTime.total) / 1e6, stderr };
}

/** The generator's JSON output as a result. Throws a LoadgenError naming the first field that is missing or of the wrong type. */
export function parseLoadgenOutput(text: string): LoadgenResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LoadgenError(`the load generator's output is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const fields = new Fields(json, "output");
  return {
    wallSeconds: fields.number("wall_seconds"),
    cpuUserSeconds: fields.number("cpu_user_seconds"),
    cpuSystemSeconds: fields.number("cpu_system_seconds"),
    produced: fields.number("produced"),
    consumed: fields.number("consumed"),
    misses: fields.number("misses"),
    producedPerSecond: fields.number("produced_per_second"),
    consumedPerSecond: fields.number("consumed_per_second"),
    put: latency(fields.object("put_latency_us")),
    take: latency(fields.object("take_latency_us")),
    totalAcknowledged: fields.number("total_acknowledged"),
    totalUnacknowledged: fields.number("total_unacknowledged"),
    totalConsumed: fields.number("total_consumed"),
    drained: fields.boolean("drained"),
    lost: fields.numberOrNull("lost"),
    failedConnections: fields.number("failed_connections"),
    errors: fields.number("errors"),
    errorSamples: fields.strings("error_samples"),
  };
}

function latency(fields: Fields): Latency {
  return { count: fields.number("count"), p50: fields.number("p50"), p99: fields.number("p99"), p999: fields.number("p999"), max: fields.number("max") };
}

/** Typed reads of a JSON object's fields; each throws a LoadgenError naming the field. */
class Fields {
  private readonly record: Record<string, unknown>;

  constructor(
    value: unknown,
    private readonly where: string,
  ) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new LoadgenError(`the load generator's ${where} is not an object`);
    this.record = value as Record<string, unknown>;
  }

  number(name: string): number {
    const value = this.record[name];
    if (typeof value !== "number" || !Number.isFinite(value)) throw this.wrong(name, "a number");
    return value;
  }

  numberOrNull(name: string): number | null {
    return this.record[name] === null ? null : this.number(name);
  }

  boolean(name: string): boolean {
    const value = this.record[name];
    if (typeof value !== "boolean") throw this.wrong(name, "true or false");
    return value;
  }

  strings(name: string): string[] {
    const value = this.record[name];
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw this.wrong(name, "a list of strings");
    return value as string[];
  }

  object(name: string): Fields {
    if (!(name in this.record)) throw this.wrong(name, "an object");
    return new Fields(this.record[name], `${this.where} field ${name}`);
  }

  private wrong(name: string, expected: string): LoadgenError {
    return new LoadgenError(`the load generator's ${this.where} field ${name} should be ${expected}, got ${JSON.stringify(this.record[name])}`);
  }
}
