import { expect, test } from "bun:test";
import { Ledger, type TrackRow } from "../../bench/lib/soak_ledger.ts";
import { makePayload } from "../../bench/lib/soak_items.ts";

/** jobs fans out to jobs+audit; slow's expired items move to parked. */
function ledger(): Ledger {
  const l = new Ledger({ jobs: ["jobs", "jobs+audit"], slow: ["slow"] }, { jobs: "jobs", "jobs+audit": "jobs+audit", slow: "slow", parked: "slow" });
  l.epoch = 1;
  return l;
}

/** Sends item `seq` of producer p to `queue` and records the reply. */
function set(l: Ledger, queue: string, seq: number, stored = true): Uint8Array {
  l.sent(queue, `p/${seq}`);
  l.answered(queue, `p/${seq}`, stored);
  return makePayload("p", seq, 100);
}

const row = (rows: readonly TrackRow[], track: string): TrackRow => rows.find((r) => r.track === track)!;

test("items consumed by plain gets, confirmed reads and the final drain are all accounted for", () => {
  const l = ledger();
  const [a, b, c] = [set(l, "slow", 1), set(l, "slow", 2), set(l, "slow", 3)];
  l.delivered("slow", a, "plain");
  expect(l.delivered("parked", b, "open")).toBe("p/2");
  l.confirmed("parked", "p/2");
  l.delivered("slow", c, "drain");
  const verdict = l.verdict();
  expect(verdict.problems).toEqual([]);
  expect(row(verdict.rows, "slow")).toMatchObject({ acked: 3, delivered: 3, consumed: 1, confirmed: 1, remaining: 1, lost: 0 });
});

test("a set to a fanout parent is owed on the parent's and the child's track", () => {
  const l = ledger();
  const item = set(l, "jobs", 1);
  l.delivered("jobs", item, "plain");
  const verdict = l.verdict();
  expect(row(verdict.rows, "jobs").lost).toBe(0);
  expect(row(verdict.rows, "jobs+audit").lost).toBe(1);
  expect(verdict.problems).toEqual(["1 lost on jobs+audit (by the epoch since which they were queued: 1: 1), e.g. p/1 (delivered 0 times)"]);
});

test("an acknowledged item never seen again is lost; a refused or unanswered one is not", () => {
  const l = ledger();
  set(l, "slow", 1);
  set(l, "slow", 2, false);
  l.sent("slow", "p/3");
  const slow = row(l.verdict().rows, "slow");
  expect(slow).toMatchObject({ acked: 1, refused: 1, unanswered: 1, lost: 1 });
});

test("a plain get cut off by a restart excuses one item queued by then, not one queued later", () => {
  const queuedBefore = ledger();
  set(queuedBefore, "slow", 1);
  queuedBefore.epoch = 2;
  queuedBefore.plainGetCutOff("parked");
  expect(row(queuedBefore.verdict().rows, "slow")).toMatchObject({ excused: 1, lost: 0 });

  const queuedAfter = ledger();
  queuedAfter.plainGetCutOff("slow");
  queuedAfter.epoch = 2;
  set(queuedAfter, "slow", 1);
  expect(row(queuedAfter.verdict().rows, "slow")).toMatchObject({ excused: 0, lost: 1 });
});

test("a consumed item served again came back; one served while open elsewhere was served twice", () => {
  const l = ledger();
  const [a, b] = [set(l, "slow", 1), set(l, "slow", 2)];
  l.delivered("slow", a, "plain");
  l.epoch = 2;
  l.delivered("slow", a, "drain");
  l.delivered("slow", b, "open");
  l.delivered("parked", b, "plain");
  const verdict = l.verdict();
  expect(row(verdict.rows, "slow")).toMatchObject({ cameBack: 1, servedTwice: 1, redelivered: 2 });
  expect(verdict.problems).toEqual([
    "1 came back on slow, e.g. p/1: consumed by a plain get in epoch 1, then served by the final drain in epoch 2",
    "1 served twice on slow, e.g. p/2: open on one connection, then served by a plain get in epoch 2",
  ]);
});

test("an aborted item must come back; one whose close was cut off may come back or not", () => {
  const l = ledger();
  const [a, b, c] = [set(l, "slow", 1), set(l, "slow", 2), set(l, "slow", 3)];
  for (const item of [a, b, c]) l.delivered("slow", item, "open");
  l.givenBack("slow", "p/1");
  l.unsure("slow", "p/2");
  l.unsure("slow", "p/3");
  l.delivered("slow", c, "plain");
  const slow = row(l.verdict().rows, "slow");
  expect(slow).toMatchObject({ lost: 1, maybeConsumed: 1, cameBack: 0, redelivered: 1 });
});

test("a damaged payload or one never sent on that track is invented", () => {
  const l = ledger();
  const item = set(l, "slow", 1);
  expect(l.delivered("jobs", item, "plain")).toBeNull();
  expect(l.delivered("slow", makePayload("p", 9, 100), "plain")).toBeNull();
  expect(l.delivered("slow", item.subarray(1), "plain")).toBeNull();
  l.delivered("slow", item, "plain");
  const verdict = l.verdict();
  expect(verdict.invented).toBe(3);
  expect(verdict.problems).toEqual(["3 invented, e.g. jobs: p/1; slow: p/9; slow: a damaged payload of 99 bytes"]);
});

test("a refused set whose item is delivered anyway is counted, whichever came first, and is a problem", () => {
  const l = ledger();
  l.sent("slow", "p/1");
  l.delivered("slow", makePayload("p", 1, 100), "plain");
  l.answered("slow", "p/1", false);
  const item = set(l, "slow", 2, false);
  l.delivered("slow", item, "plain");
  const verdict = l.verdict();
  expect(row(verdict.rows, "slow").refusedYetDelivered).toBe(2);
  expect(verdict.problems).toEqual([
    "2 refused yet delivered on slow, e.g. p/1: its set was refused, and it was served in epoch 1; p/2: its set was refused, and it was served in epoch 1",
  ]);
});
