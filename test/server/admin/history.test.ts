import { expect, spyOn, test } from "bun:test";
import { log } from "../../../src/log.ts";
import { History, startSampling } from "../../../src/server/admin/history.ts";
import type { Snapshot } from "../../../src/server/snapshot.ts";
import { churningSnapshots, recordNow, snapshot, stats, T0 } from "../../helpers/history_samples.ts";

test("rates are per second between samples: in from total_items, out from what left the queue or is open", () => {
  const history = new History(10, 10);
  recordNow(history, snapshot({ jobs: { items: 5, totalItems: 5 } }), T0, 0);
  // Two seconds later: 20 more added; 4 taken for good and 2 open, so items went from 5 to 19.
  recordNow(history, snapshot({ jobs: { items: 19, totalItems: 25, openTransactions: 2 } }), T0 + 2000, 2000);
  const json = history.toJson(-1);
  expect(json.times).toEqual([T0, T0 + 2000]);
  expect(json.queues.jobs).toEqual({ items: [5, 19], bytes: [0, 0], in_per_second: [0, 10], out_per_second: [0, 2] });
  expect(json.server.in_per_second).toEqual([0, 10]);
  expect(json.server.out_per_second).toEqual([0, 2]);
  expect(json.server.items).toEqual([5, 19]);
  expect(json.rates).toEqual({ jobs: [10, 2] });
});

test("a queue made between samples counts all it holds as new; one deleted and made again never gives a negative rate", () => {
  const history = new History(10, 10);
  recordNow(history, snapshot({ a: { items: 100, totalItems: 100 } }), T0, 0);
  recordNow(history, snapshot({ a: { items: 0, totalItems: 100 }, b: { items: 3, totalItems: 4 } }), T0 + 1000, 1000);
  // `a` deleted and made again: its counter started over below what it was.
  recordNow(history, snapshot({ a: { items: 1, totalItems: 1 }, b: { items: 3, totalItems: 4 } }), T0 + 2000, 2000);
  const json = history.toJson(-1);
  expect(json.queues.a!.in_per_second).toEqual([0, 0, 1]);
  expect(json.queues.a!.out_per_second).toEqual([0, 100, 0]);
  expect(json.queues.b!.in_per_second).toEqual([null, 4, 0]);
  expect(json.queues.b!.out_per_second).toEqual([null, 1, 0]);
  expect(json.queues.b!.items).toEqual([null, 3, 3]);
});

test("it keeps the last `capacity` samples, and `after` returns only the newer ones", () => {
  const history = new History(3, 10);
  expect(history.toJson(-1)).toMatchObject({ first: 0, last: -1, times: [] });
  for (let n = 0; n < 5; n++) recordNow(history, snapshot({ jobs: { items: n, totalItems: n } }), T0 + n * 1000, n * 1000);
  expect(history.toJson(-1)).toMatchObject({ first: 2, last: 4, times: [T0 + 2000, T0 + 3000, T0 + 4000] });
  expect(history.toJson(-1).queues.jobs!.items).toEqual([2, 3, 4]);
  expect(history.toJson(3)).toMatchObject({ first: 4, last: 4, times: [T0 + 4000] });
  expect(history.toJson(4)).toMatchObject({ first: 5, last: 4, times: [] });
  expect(history.toJson(4).queues.jobs!.items).toEqual([]);
});

test("with 10,000 queues it keeps series for the limit only, and drops those of queues that go", () => {
  const history = new History(5, 100);
  const many = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`q${i}`, { items: i, totalItems: i }]));
  recordNow(history, snapshot(many(10_000)), T0, 0);
  recordNow(history, snapshot(many(10_000)), T0 + 1000, 1000);
  const json = history.toJson(-1);
  expect(Object.keys(json.queues)).toHaveLength(100);
  expect(json.queues.q9999!.items).toEqual([9999, 9999]);
  expect(json.server.items).toEqual([49_995_000, 49_995_000]);
  recordNow(history, snapshot({ q1: { items: 1, totalItems: 1 } }), T0 + 2000, 2000);
  expect(Object.keys(history.toJson(-1).queues)).toEqual(["q1"]);
  expect(history.toJson(-1).queues.q1!.items).toEqual([null, null, 1]);
});

/** /history.json after each sample, object keys sorted, as one digest. */
function digestOfRecording(record: (history: History, snapshot: Snapshot, wallMs: number, monotonicMs: number) => void | Promise<void>, blockSamples?: number): Promise<string> {
  return (async () => {
    const history = new History(16, 12, blockSamples);
    const answers: string[] = [];
    let monotonic = 0;
    for (const [n, snapshot] of churningSnapshots().entries()) {
      monotonic += [1000, 2000, 500, 4000][n % 4]!;
      await record(history, snapshot, T0 + n * 1000, monotonic);
      answers.push(canonicalJson(history.toJson(-1)), canonicalJson(history.toJson(Math.max(-1, n - 3))));
    }
    return Bun.hash(answers.join("\n")).toString(16);
  })();
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}

// The digest of what `record` answered in one turn before the recording was spread over turns (0e5093f).
const ONE_TURN_DIGEST = "25b3d6b012527b77";

test("a churning history answers exactly what the one-turn recording answered, recorded in one turn or a queue a turn", async () => {
  expect(await digestOfRecording((history, snapshot, wallMs, monotonicMs) => recordNow(history, snapshot, wallMs, monotonicMs))).toBe(ONE_TURN_DIGEST);
  const inTurns = (history: History, snapshot: Snapshot, wallMs: number, monotonicMs: number) =>
    new Promise<void>((resolve, reject) => history.recordInTurns(snapshot, wallMs, monotonicMs, (error) => (error === null ? resolve() : reject(error)), 0));
  expect(await digestOfRecording(inTurns)).toBe(ONE_TURN_DIGEST);
});

test("the samples kept in blocks answer what the ring of 16 answered, whatever the block size", async () => {
  const record = (history: History, snapshot: Snapshot, wallMs: number, monotonicMs: number) => recordNow(history, snapshot, wallMs, monotonicMs);
  for (const blockSamples of [1, 5, 7, 16]) expect([blockSamples, await digestOfRecording(record, blockSamples)]).toEqual([blockSamples, ONE_TURN_DIGEST]);
});

/** A snapshot of `count` queues whose stats count how often they are read, in `reads.count`. */
function countedSnapshot(count: number, reads: { count: number }): Snapshot {
  const queues = Array.from({ length: count }, (_, i) => {
    const counts = stats({ items: i % 50, totalItems: i % 50 });
    return { name: `q${i}`, children: [], journalFailure: null, get stats() { reads.count++; return counts; } };
  });
  return { ...snapshot({}), queues };
}

/** Calls `each` once a turn until `until` says to stop; resolves with the number of turns. */
function everyTurn(each: () => void, until: () => boolean): Promise<number> {
  return new Promise((resolve) => {
    let turns = 0;
    const tick = () => {
      turns++;
      each();
      if (until()) resolve(turns);
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
}

test("a sample of 1,000 queues is recorded a queue a turn with no slice time, and shows only once complete", async () => {
  const history = new History(10, 10);
  recordNow(history, snapshot({ jobs: { items: 1, totalItems: 1 } }), T0, 0);
  const before = JSON.stringify(history.toJson(-1));
  const reads = { count: 0 };
  const sample = countedSnapshot(1000, reads);
  let done = false;
  history.recordInTurns(sample, T0 + 1000, 1000, () => (done = true), 0);
  let last = reads.count;
  let most = last;
  let halfSeen = false;
  const turns = await everyTurn(() => {
    most = Math.max(most, reads.count - last);
    last = reads.count;
    if (!done && JSON.stringify(history.toJson(-1)) !== before) halfSeen = true;
  }, () => done);
  expect(most).toBe(1);
  expect(turns).toBeGreaterThanOrEqual(999);
  expect(halfSeen).toBe(false);
  const oneTurn = new History(10, 10);
  recordNow(oneTurn, snapshot({ jobs: { items: 1, totalItems: 1 } }), T0, 0);
  recordNow(oneTurn, sample, T0 + 1000, 1000);
  expect(history.toJson(-1)).toEqual(oneTurn.toJson(-1));
});

test("the sampling records 100,000 queues over turns, and stopping it stops the sample under way", async () => {
  const history = new History(10, 10);
  const reads = { count: 0 };
  const big = countedSnapshot(100_000, reads);
  const turnsWithReads: number[] = [];
  let stop = () => {};
  await new Promise<void>((handed) => {
    stop = startSampling(history, (done) => {
      handed();
      done(big);
      return () => {};
    });
  });
  // The snapshot was handed over at once and the first slice is recorded; stop after two more turns.
  let last = 0;
  await everyTurn(() => {
    if (reads.count > last) turnsWithReads.push(reads.count - last);
    last = reads.count;
    if (turnsWithReads.length === 3) stop();
  }, () => turnsWithReads.length >= 3 || reads.count >= 100_000);
  const readWhenStopped = reads.count;
  await everyTurn(() => {}, () => true);
  await everyTurn(() => {}, () => true);
  expect(turnsWithReads.length).toBe(3);
  expect(readWhenStopped).toBeLessThan(100_000);
  expect(reads.count).toBe(readWhenStopped);
  expect(history.toJson(-1)).toMatchObject({ first: 0, last: -1, times: [], rates: {} });
});

test("a sample whose start throws (a bug) is logged once and stops the sampling, as a sample that fails does; the server goes on", async () => {
  const { promise: loggedOnce, resolve } = Promise.withResolvers<void>();
  const logged = spyOn(log, "error").mockImplementation(() => resolve());
  let samples = 0;
  const stop = startSampling(new History(10, 10), () => {
    samples++;
    throw new Error("a bug in a sample");
  });
  try {
    await loggedOnce;
    expect(samples).toBe(1);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error taking a history sample: a bug in a sample"]);
  } finally {
    stop();
    logged.mockRestore();
  }
});
