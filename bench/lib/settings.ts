/**
 * The benchmark's knobs, read from BENCH_* environment variables and checked up front, and the
 * run length they imply.
 */
import { STALL_MS } from "./client.ts";

export class SettingsError extends Error {}

export interface Settings {
  /** Measured seconds per run (one target, one scenario, one round). */
  readonly seconds: number;
  readonly rounds: number;
  /** Connections per side: n means n producers + n consumers. */
  readonly scenarios: readonly number[];
  readonly itemSize: number;
  /** The t= of Kestrel's blocking gets; 0 = plain polling gets. */
  readonly getWaitMs: number;
  /** Unmeasured load before each measured window. */
  readonly warmupMs: number;
}

const WARMUP_MS = 1000;
/** Per run, besides warm-up and window: connecting, draining, reading stats. */
const RUN_OVERHEAD_SECONDS = 0.1;
/** Starting and stopping the servers. */
const FIXED_OVERHEAD_SECONDS = 2;

/**
 * The integer in `env[name]` (`fallback` when unset), from `min` to `max`; otherwise a
 * SettingsError `<name>: expected <expected>, got "<text>"`.
 */
export function integerSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, expected: string, min: number, max = Infinity): number {
  const text = env[name];
  const value = Number(text ?? fallback);
  if (!Number.isInteger(value) || value < min || value > max) throw new SettingsError(`${name}: expected ${expected}, got "${text}"`);
  return value;
}

/**
 * The comma-separated integers in `env[name]` (`fallback` when unset), each from `min` to `max`;
 * otherwise a SettingsError `<name>: expected <expected>, got "<text>"`.
 */
export function integerListSetting(env: NodeJS.ProcessEnv, name: string, fallback: string, expected: string, min: number, max = Infinity): number[] {
  const text = env[name] ?? fallback;
  return text.split(",").map((part) => {
    const n = Number(part.trim());
    if (part.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new SettingsError(`${name}: expected ${expected}, got "${text}"`);
    return n;
  });
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const seconds = Number(env.BENCH_SECONDS ?? "3");
  if (!(seconds > 0)) throw new SettingsError(`BENCH_SECONDS: expected a positive number, got "${env.BENCH_SECONDS}"`);
  const rounds = integerSetting(env, "BENCH_ROUNDS", 3, "a positive integer", 1);
  const itemSize = integerSetting(env, "BENCH_ITEM_SIZE", 1024, "a byte count", 0);
  const scenarios = integerListSetting(env, "BENCH_SCENARIOS", "1,10,50", 'positive integers like "1,10,50"', 1);
  const getWaitMs = integerSetting(env, "BENCH_GET_WAIT_MS", 500, `whole milliseconds below ${STALL_MS}`, 0, STALL_MS - 1);
  return { seconds, rounds, scenarios, itemSize, getWaitMs, warmupMs: WARMUP_MS };
}

/** Roughly how long the whole benchmark takes with `targets` targets. */
export function expectedSeconds(settings: Settings, targets: number): number {
  const runs = settings.rounds * settings.scenarios.length * targets;
  return FIXED_OVERHEAD_SECONDS + runs * (settings.warmupMs / 1000 + settings.seconds + RUN_OVERHEAD_SECONDS);
}

export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}
