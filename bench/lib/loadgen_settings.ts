/**
 * The knobs of the native bench (bench/throughput.ts), read from BENCH_* environment variables and
 * checked up front, and the run length they imply. A bad value is a SettingsError naming the
 * variable, before any server starts.
 */
import { join } from "node:path";
import { DEFAULT_SCENARIOS, parseScenarioList, type Scenario } from "./scenarios.ts";
import { SettingsError, integerSetting } from "./settings.ts";

export interface LoadgenSettings {
  /** The measured window of every run: seconds, or a count of items produced and consumed. */
  readonly window: { readonly seconds: number } | { readonly items: number };
  readonly rounds: number;
  readonly warmupSeconds: number;
  readonly scenarios: readonly Scenario[];
  /** Labels of the targets to run, in table order. */
  readonly targets: readonly string[];
  /** Load-generator threads. */
  readonly threads: number;
  /** How long a take waits for an item on a queue target. */
  readonly waitMs: number;
  /** Where the chart goes, or null for none. */
  readonly svgPath: string | null;
}

export const DEFAULT_SVG_PATH = join(import.meta.dir, "..", "..", "docs", "performance.svg");

function secondsSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  const value = Number(text ?? fallback);
  if (!(value >= 0) || !Number.isFinite(value) || text?.trim() === "") throw new SettingsError(`${name}: expected seconds (a number, 0 or more), got "${text}"`);
  return value;
}

/** The labels in BENCH_TARGETS (comma-separated), each one of `known`; all of `known` when unset. */
function targetsSetting(env: NodeJS.ProcessEnv, known: readonly string[]): string[] {
  const text = env.BENCH_TARGETS;
  if (text === undefined) return [...known];
  const labels = text.split(",").map((label) => label.trim()).filter((label) => label !== "");
  const unknown = labels.filter((label) => !known.includes(label));
  if (labels.length === 0 || unknown.length > 0) throw new SettingsError(`BENCH_TARGETS: expected labels from "${known.join(",")}", got "${text}"`);
  return known.filter((label) => labels.includes(label));
}

export function readLoadgenSettings(env: NodeJS.ProcessEnv, knownTargets: readonly string[]): LoadgenSettings {
  const seconds = secondsSetting(env, "BENCH_SECONDS", 3);
  if (seconds === 0) throw new SettingsError(`BENCH_SECONDS: expected more than 0 seconds, got "${env.BENCH_SECONDS}"`);
  const items = env.BENCH_ITEMS === undefined ? null : integerSetting(env, "BENCH_ITEMS", 0, "a positive item count", 1);
  return {
    window: items === null ? { seconds } : { items },
    rounds: integerSetting(env, "BENCH_ROUNDS", 3, "a positive integer", 1),
    warmupSeconds: secondsSetting(env, "BENCH_WARMUP_SECONDS", 1),
    scenarios: parseScenarioList(env.BENCH_SCENARIOS ?? DEFAULT_SCENARIOS.join(",")),
    targets: targetsSetting(env, knownTargets),
    threads: integerSetting(env, "BENCH_THREADS", 1, "a thread count from 1 to 64", 1, 64),
    waitMs: integerSetting(env, "BENCH_GET_WAIT_MS", 500, "whole milliseconds from 0 to 60000", 0, 60_000),
    svgPath: env.BENCH_SVG === "" ? null : (env.BENCH_SVG ?? DEFAULT_SVG_PATH),
  };
}

/** Per run, besides warm-up and window: connecting, draining, dropping queues. */
const RUN_OVERHEAD_SECONDS = 0.5;
/** Starting and stopping the servers. */
const FIXED_OVERHEAD_SECONDS = 5;

/** Roughly how long the bench takes for `runs` runs per round (an item-count window is guessed at 2 s). */
export function expectedLoadgenSeconds(settings: LoadgenSettings, runsPerRound: number): number {
  const window = "seconds" in settings.window ? settings.window.seconds : 2;
  return FIXED_OVERHEAD_SECONDS + settings.rounds * runsPerRound * (settings.warmupSeconds + window + RUN_OVERHEAD_SECONDS);
}
