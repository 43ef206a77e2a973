/**
 * The cluster benchmark's arithmetic, with no I/O: sharing load out among worker processes,
 * adding up what the workers report, and checking the counts against the servers' counters (the
 * rounds are reduced with report.ts's `lowerMedian` and `spread`).
 *
 * Invariants: a share-out always sums to its total and never differs from the exact proportion by
 * a whole item or more; a run's rate is items moved over the span from the first worker's start
 * to the last useful moment (last put acknowledged or item received) of any worker; every count
 * that disagrees with another becomes a problem, worded with both numbers.
 */
import type { LoadKind, WorkerResult } from "./cluster_worker.ts";

/**
 * `total` split into integers proportional to `weights` (largest remainders first, ties to the
 * earlier weight), summing to `total`. All-zero weights get nothing but the first gets the rest.
 */
export function shareOut(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (weights.length === 0) return [];
  if (sum === 0) return weights.map((_, i) => (i === 0 ? total : 0));
  const exact = weights.map((w) => (total * w) / sum);
  const shares = exact.map(Math.floor);
  let left = total - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, remainder: x - Math.floor(x) })).sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  for (const { i } of order) {
    if (left-- <= 0) break;
    shares[i]!++;
  }
  return shares;
}

/** Every worker's results added up. */
export interface Combined {
  readonly workers: number;
  readonly produced: number;
  readonly received: number;
  readonly corrupt: number;
  readonly errors: ReadonlyMap<string, number>;
  /** Seconds from the earliest start to the latest useful moment; NaN if nothing happened. */
  readonly spanSeconds: number;
  readonly cpuSeconds: number;
  /** The busiest single worker's CPU seconds. */
  readonly maxCpuSeconds: number;
}

export function combine(results: readonly WorkerResult[]): Combined {
  const errors = new Map<string, number>();
  for (const result of results) for (const [message, count] of Object.entries(result.errors)) errors.set(message, (errors.get(message) ?? 0) + count);
  const sum = (pick: (r: WorkerResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const lastAt = Math.max(...results.map((r) => r.lastAt).filter(Number.isFinite));
  const startedAt = Math.min(...results.map((r) => r.startedAt));
  return {
    workers: results.length,
    produced: sum((r) => r.produced),
    received: sum((r) => r.received),
    corrupt: sum((r) => r.corrupt),
    errors,
    spanSeconds: Number.isFinite(lastAt - startedAt) ? (lastAt - startedAt) / 1000 : NaN,
    cpuSeconds: sum((r) => r.cpuSeconds),
    maxCpuSeconds: Math.max(0, ...results.map((r) => r.cpuSeconds)),
  };
}

/** The items a run of `kind` moves: what the producers put, or (get, consume) what the run prefilled. */
export function itemsMoved(kind: LoadKind, combined: Combined): number {
  return kind === "put" ? combined.produced : combined.received;
}

/** What a run was meant to do, and what the servers counted around it (summed over the servers it used). */
export interface Expected {
  readonly kind: LoadKind;
  /** Items the workers' producers had to put. */
  readonly quota: number;
  /** Items put before the run for the consumers to take. */
  readonly prefilled: number;
  /** Sets the servers counted from before the prefill to after the run (`cmd_set`). */
  readonly serverSets: number;
  /** Items left in the queue after the run, and items still open. */
  readonly serverItemsLeft: number;
  readonly serverOpen: number;
}

/** Every way the run's counts disagree, one line each; empty when all is well. */
export function runProblems(expected: Expected, combined: Combined, finished: boolean): string[] {
  const problems: string[] = [];
  const consumes = expected.kind !== "put";
  if (!finished) problems.push(`did not finish: ${combined.produced} of ${expected.quota} items put, ${combined.received} received`);
  if (combined.produced !== expected.quota) problems.push(`${combined.produced} puts acknowledged, ${expected.quota} intended`);
  const wanted = consumes ? expected.prefilled + combined.produced : 0;
  if (combined.received !== wanted) problems.push(`${combined.received} items received, ${wanted} put`);
  if (combined.corrupt > 0) problems.push(`${combined.corrupt} items received with the wrong bytes`);
  const sets = expected.prefilled + combined.produced;
  if (expected.serverSets !== sets) problems.push(`servers counted ${expected.serverSets} sets, clients were acknowledged ${sets} (retried puts?)`);
  const left = sets - combined.received;
  if (expected.serverItemsLeft !== left) problems.push(`servers hold ${expected.serverItemsLeft} items after the run, ${left} expected`);
  if (expected.serverOpen !== 0) problems.push(`${expected.serverOpen} items still open on the servers after the run`);
  for (const [message, count] of combined.errors) problems.push(`error${count > 1 ? ` (x${count})` : ""}: ${message}`);
  return problems;
}
