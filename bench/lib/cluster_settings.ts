/**
 * The cluster benchmark's knobs (bench/cluster.ts), read from BENCH_* environment variables and
 * checked up front: any bad value is a SettingsError naming the variable, before a server starts.
 */
import type { LoadKind } from "./cluster_worker.ts";
import { SettingsError, integerListSetting, integerSetting } from "./settings.ts";

export interface ClusterSettings {
  readonly rounds: number;
  /** Items each run moves (put, prefilled and taken, or put and taken). */
  readonly items: number;
  readonly itemSize: number;
  /** Producers (put), consumers (get, consume), or each of both (mixed). */
  readonly concurrency: readonly number[];
  /** Worker processes the load is spread over. */
  readonly processes: readonly number[];
  /** Cluster sizes driven through the client. */
  readonly servers: readonly number[];
  readonly kinds: readonly LoadKind[];
  /** How long one get waits for an item (client `timeoutMs`, direct `t=`). */
  readonly getWaitMs: number;
  /** A run that has not moved all its items by then is stopped and reported. */
  readonly runTimeoutSeconds: number;
}

export const LOAD_KINDS: readonly LoadKind[] = ["put", "get", "consume", "mixed"];
/** More servers than this on one machine measures nothing new. */
const MAX_SERVERS = 8;

export function kindListSetting(env: NodeJS.ProcessEnv, name: string, fallback: readonly LoadKind[]): LoadKind[] {
  const text = env[name] ?? fallback.join(",");
  const kinds = text.split(",").map((part) => part.trim());
  const bad = kinds.filter((kind) => !(LOAD_KINDS as readonly string[]).includes(kind));
  if (kinds.length === 0 || bad.length > 0) throw new SettingsError(`${name}: expected some of ${LOAD_KINDS.join(",")}, got "${text}"`);
  return kinds as LoadKind[];
}

export function readClusterSettings(env: NodeJS.ProcessEnv): ClusterSettings {
  return {
    rounds: integerSetting(env, "BENCH_ROUNDS", 3, "a positive integer", 1),
    items: integerSetting(env, "BENCH_ITEMS", 20_000, "a positive integer", 1),
    itemSize: integerSetting(env, "BENCH_ITEM_SIZE", 1024, "a byte count", 1),
    concurrency: integerListSetting(env, "BENCH_CONCURRENCY", "1,10,50", 'positive integers like "1,10,50"', 1),
    processes: integerListSetting(env, "BENCH_PROCESSES", "1,2", 'positive integers like "1,2"', 1),
    servers: integerListSetting(env, "BENCH_SERVERS", "1,2,3", `integers from 1 to ${MAX_SERVERS} like "1,2,3"`, 1, MAX_SERVERS),
    kinds: kindListSetting(env, "BENCH_KINDS", LOAD_KINDS),
    getWaitMs: integerSetting(env, "BENCH_GET_WAIT_MS", 500, "whole milliseconds", 1),
    runTimeoutSeconds: integerSetting(env, "BENCH_RUN_TIMEOUT", 120, "whole seconds", 1),
  };
}
