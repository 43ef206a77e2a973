import { expect, test } from "bun:test";
import { type Expected, combine, itemsMoved, runProblems, shareOut } from "../../bench/lib/cluster_runs.ts";
import { readClusterSettings } from "../../bench/lib/cluster_settings.ts";
import type { WorkerResult } from "../../bench/lib/cluster_worker.ts";
import { SettingsError } from "../../bench/lib/settings.ts";

const worker = (fields: Partial<WorkerResult>): WorkerResult => ({ produced: 0, received: 0, corrupt: 0, errors: {}, startedAt: 1000, lastAt: NaN, cpuSeconds: 0, ...fields });

test("a share-out sums to its total, stays within one item of the exact proportion, and gives zero weights nothing", () => {
  expect(shareOut(10, [1, 1, 1])).toEqual([4, 3, 3]);
  expect(shareOut(20_000, [1, 0])).toEqual([20_000, 0]);
  expect(shareOut(7, [3, 1])).toEqual([5, 2]);
  expect(shareOut(0, [1, 1])).toEqual([0, 0]);
  expect(shareOut(5, [0, 0])).toEqual([5, 0]);
  for (const [total, weights] of [[101, [5, 3, 2]], [1, [1, 1, 1]], [99_999, [1, 2, 3, 4]]] as const) {
    const shares = shareOut(total, weights);
    const sum = weights.reduce((a, b) => a + b, 0);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
    shares.forEach((share, i) => expect(Math.abs(share - (total * weights[i]!) / sum)).toBeLessThan(1));
  }
});

test("workers' results add up: counts and errors summed, the span from the first start to the last item, the busiest worker's CPU", () => {
  const combined = combine([
    worker({ produced: 10, received: 4, startedAt: 1000, lastAt: 3000, cpuSeconds: 0.5, errors: { "ConnectionError: x": 1 } }),
    worker({ produced: 5, received: 11, corrupt: 1, startedAt: 1001, lastAt: 3500, cpuSeconds: 1.5, errors: { "ConnectionError: x": 2, "TimeoutError: y": 1 } }),
    worker({ startedAt: 999 }),
  ]);
  expect(combined).toMatchObject({ workers: 3, produced: 15, received: 15, corrupt: 1, cpuSeconds: 2, maxCpuSeconds: 1.5 });
  expect(combined.spanSeconds).toBeCloseTo(2.501, 6);
  expect([...combined.errors]).toEqual([["ConnectionError: x", 3], ["TimeoutError: y", 1]]);
  expect(itemsMoved("put", combined)).toBe(15);
  expect(itemsMoved("get", { ...combined, received: 9 })).toBe(9);
  expect(combine([worker({})]).spanSeconds).toBeNaN();
});

const fine: Expected = { kind: "mixed", quota: 100, prefilled: 0, serverSets: 100, serverItemsLeft: 0, serverOpen: 0 };

test("a run whose counts agree has no problems, for every kind", () => {
  expect(runProblems(fine, combine([worker({ produced: 100, received: 100, lastAt: 2000 })]), true)).toEqual([]);
  expect(runProblems({ ...fine, kind: "put", serverItemsLeft: 100 }, combine([worker({ produced: 100, lastAt: 2000 })]), true)).toEqual([]);
  const prefilled = { ...fine, kind: "get" as const, quota: 0, prefilled: 100 };
  expect(runProblems(prefilled, combine([worker({ received: 60 }), worker({ received: 40 })]), true)).toEqual([]);
});

test("every disagreement is a problem naming both numbers", () => {
  const problems = runProblems(
    { ...fine, serverSets: 103, serverItemsLeft: 5, serverOpen: 1 },
    combine([worker({ produced: 101, received: 99, corrupt: 1, errors: { "NoServerError: none": 2 } })]),
    false,
  );
  expect(problems).toEqual([
    "did not finish: 101 of 100 items put, 99 received",
    "101 puts acknowledged, 100 intended",
    "99 items received, 101 put",
    "1 items received with the wrong bytes",
    "servers counted 103 sets, clients were acknowledged 101 (retried puts?)",
    "servers hold 5 items after the run, 2 expected",
    "1 items still open on the servers after the run",
    "error (x2): NoServerError: none",
  ]);
});

test("cluster settings: defaults, lists, and a SettingsError naming the variable", () => {
  const defaults = readClusterSettings({});
  expect(defaults).toMatchObject({ rounds: 3, items: 20_000, concurrency: [1, 10, 50], processes: [1, 2], servers: [1, 2, 3], kinds: ["put", "get", "consume", "mixed"] });
  expect(readClusterSettings({ BENCH_KINDS: "mixed, put", BENCH_SERVERS: "3" })).toMatchObject({ kinds: ["mixed", "put"], servers: [3] });
  expect(() => readClusterSettings({ BENCH_KINDS: "put,peek" })).toThrow(new SettingsError('BENCH_KINDS: expected some of put,get,consume,mixed, got "put,peek"'));
  expect(() => readClusterSettings({ BENCH_SERVERS: "9" })).toThrow(SettingsError);
});
