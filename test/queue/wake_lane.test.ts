/**
 * Peek waiters woken over turns (src/queue/wake_lane.ts), counted on the stepped turns' clock:
 * one item wakes at most a slice's worth of them a turn, in line, each seeing the item (or, once
 * a get took it, the next one); the non-peek waiters behind them still get items in line, each
 * item once.
 */
import { expect, spyOn, test } from "bun:test";
import { DEFAULT_QUEUE_CONFIG } from "../../src/config/schema.ts";
import type { Item } from "../../src/journal/item.ts";
import { log } from "../../src/log.ts";
import { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { CHECK_EVERY, WAKE_SLICE_MS, wakeLater } from "../../src/queue/wake_lane.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { nextTurn, steppedTurnClock, turnsUntil as turnsWithin } from "../helpers/turn_clock.ts";

const NOW = 1_795_000_000_000;
// Every look at the turns' clock moves it 0.1 ms on: a slice is about 20 looks.
const clock = steppedTurnClock(0.1);
/** Wakes one turn may run: a look per CHECK_EVERY wakes, and one more look's worth over (+1: sums of 0.1 fall a hair short). */
const PER_TURN = CHECK_EVERY * (Math.round(WAKE_SLICE_MS / clock.step) + 2);

function makeQueue(): PersistentQueue {
  return new PersistentQueue("q", { ...DEFAULT_QUEUE_CONFIG, journal: false }, null, { items: [], disk: null, nextId: 1 }, { expired: () => null });
}

/** `count` peek waiters on `q`; what each saw, in the order they were woken. */
function peekWaiters(q: PersistentQueue, count: number): Array<{ waiter: number; item: string | null }> {
  const woken: Array<{ waiter: number; item: string | null }> = [];
  for (let waiter = 0; waiter < count; waiter++) q.wait("peek", 60_000, (item) => woken.push({ waiter, item: item && text(item.data) }));
  return woken;
}

/** Turns until `done`, checking that each woke at most PER_TURN waiters; how many turns. */
const turnsUntil = (done: () => boolean, woken: () => number): Promise<number> => turnsWithin(done, woken, PER_TURN);

test("one item wakes 1,000 peek waiters a slice a turn, in line, each seeing it; the item stays", async () => {
  const q = makeQueue();
  const WAITERS = 1000;
  const woken = peekWaiters(q, WAITERS);
  q.add(bytes("x"), 0, NOW);
  expect(woken.length).toBeGreaterThan(0);
  expect(woken.length).toBeLessThanOrEqual(PER_TURN);
  const turns = await turnsUntil(
    () => woken.length === WAITERS,
    () => woken.length,
  );
  expect(turns).toBeGreaterThanOrEqual(Math.floor(WAITERS / PER_TURN));
  expect(woken).toEqual(Array.from({ length: WAITERS }, (_, waiter) => ({ waiter, item: "x" })));
  expect(q.stats()).toMatchObject({ items: 1, waiters: 0 });
});

test("a get that takes the item between turns: the peek waiters left keep waiting, see the next item, and the waiter behind them takes it", async () => {
  const q = makeQueue();
  const WAITERS = 1000;
  const woken = peekWaiters(q, WAITERS);
  const taken: Array<Item | null> = [];
  q.wait("remove", 60_000, (item) => taken.push(item));
  q.add(bytes("x"), 0, NOW);
  const first = woken.length;
  expect(first).toBeLessThan(WAITERS);
  expect(text(q.remove(NOW)!.data)).toBe("x"); // a get overtakes the waiters still to be woken
  clock.step = 0; // time stands still: only an item could wake them now
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  expect(woken.length).toBe(first);
  expect(q.stats()).toMatchObject({ items: 0, waiters: WAITERS - first + 1 });

  clock.step = 0.1;
  q.add(bytes("y"), 0, NOW);
  await turnsUntil(
    () => taken.length === 1,
    () => woken.length,
  );
  expect(woken).toEqual(Array.from({ length: WAITERS }, (_, waiter) => ({ waiter, item: waiter < first ? "x" : "y" })));
  expect(taken.map((item) => item && text(item.data))).toEqual(["y"]);
  expect(q.stats()).toMatchObject({ items: 0, waiters: 0 });
});

test("a peek waiter whose client left before its turn is skipped; the queue's next item goes on from where the lane is", async () => {
  const q = makeQueue();
  const woken = peekWaiters(q, 2 * PER_TURN);
  const cancelled: string[] = [];
  const cancel = q.wait("peek", 60_000, () => cancelled.push("woken"));
  const late = peekWaiters(q, 1);
  q.add(bytes("x"), 0, NOW);
  cancel();
  q.add(bytes("y"), 0, NOW); // the lane has waiters to wake already: this wakes none
  const first = woken.length;
  expect(first).toBeLessThanOrEqual(PER_TURN);
  await turnsUntil(
    () => late.length === 1,
    () => woken.length + late.length,
  );
  expect(cancelled).toEqual([]);
  expect(woken.map((wake) => wake.item)).toEqual(Array(2 * PER_TURN).fill("x"));
  expect(late).toEqual([{ waiter: 0, item: "x" }]);
  expect(q.stats()).toMatchObject({ items: 2, waiters: 0 });
});

test("peek and take waiters mixed: each peek sees the item at the head in its turn, each take gets the next item in line, each item once", async () => {
  const q = makeQueue();
  const seen: string[] = [];
  const waitFor = (mode: "peek" | "remove", count: number, tag: string) => {
    for (let i = 0; i < count; i++) q.wait(mode, 60_000, (item) => seen.push(`${tag}:${item && text(item.data)}`));
  };
  const PEEKS = 2 * PER_TURN;
  waitFor("peek", PEEKS, "p1");
  waitFor("remove", 1, "r1");
  waitFor("peek", PEEKS, "p2");
  waitFor("remove", 1, "r2");
  q.add(bytes("x"), 0, NOW);
  q.add(bytes("y"), 0, NOW); // the line waits for its turn: this wakes nobody
  expect(seen.length).toBeLessThanOrEqual(PER_TURN);
  await turnsUntil(
    () => seen.length === 2 * PEEKS + 2,
    () => seen.length,
  );
  expect(seen).toEqual([...Array(PEEKS).fill("p1:x"), "r1:x", ...Array(PEEKS).fill("p2:y"), "r2:y"]);
  expect(q.stats()).toMatchObject({ items: 0, waiters: 0 });
});

test("a queue's run that throws (a bug) is logged once and leaves the lane; the runs after it go on in the same turn", async () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    const ran: string[] = [];
    wakeLater(() => {
      throw new Error("a bug in a wake run");
    });
    wakeLater(() => ran.push("after the bug") > 0);
    await nextTurn();
    expect(ran).toEqual(["after the bug"]);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error waking a queue's waiters: a bug in a wake run"]);
    await nextTurn();
    expect(ran).toEqual(["after the bug"]); // the run that threw is not run again
  } finally {
    logged.mockRestore();
  }
});
