/**
 * Blocking-get waits end at their deadlines on the monotonic clock: a wall clock that jumps
 * (setSystemTime: an operator, NTP stepping, a VM resumed) neither stretches nor cuts them. And
 * every wait of a list ended together (releaseAll) ends over turns (below).
 */
import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import type { Item } from "../../src/journal/item.ts";
import { CHECK_EVERY, WAKE_SLICE_MS } from "../../src/queue/wake_lane.ts";
import { WaiterList } from "../../src/queue/waiters.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { nextTurn, steppedTurnClock, turnsUntil as turnsWithin } from "../helpers/turn_clock.ts";

const HOUR_MS = 3_600_000;

afterEach(() => setSystemTime());

/** A wait on `list`, and a promise of what it is handed. */
function waitOn(list: WaiterList, timeoutMs: number): Promise<Item | null> {
  return new Promise((resolve) => list.add("remove", timeoutMs, resolve));
}

test("a wall clock going back an hour doesn't stretch a wait", async () => {
  const list = new WaiterList(() => undefined);
  const result = waitOn(list, 30);
  setSystemTime(new Date(Date.now() - HOUR_MS));
  expect(await result).toBeNull();
  expect(list.size).toBe(0);
}, 2000);

test("a wall clock jumping forward an hour doesn't end a wait early", async () => {
  const list = new WaiterList(() => undefined);
  const long = waitOn(list, 60_000);
  const short = waitOn(list, 20);
  setSystemTime(new Date(Date.now() + HOUR_MS));
  expect(await short).toBeNull();
  // The short wait's deadline passed; the long one is still an hour of wall time and a minute away.
  expect(list.size).toBe(1);
  list.releaseAll();
  expect(await long).toBeNull();
}, 2000);

test("waits that time out let go of everything they hold, though no item ever comes", async () => {
  const list = new WaiterList(() => undefined);
  const count = 2000;
  const held: WeakRef<object>[] = [];
  const { promise: allTimedOut, resolve } = Promise.withResolvers<void>();
  let timedOut = 0;
  for (let i = 0; i < count; i++) {
    const connection = { i };
    held.push(new WeakRef(connection));
    list.add("remove", 1, (item) => {
      if (item === null && connection.i >= 0 && ++timedOut === count) resolve();
    });
  }
  await allTimedOut;
  Bun.gc(true);
  expect(held.filter((ref) => ref.deref() !== undefined).length).toBeLessThan(count / 10);
  expect(list.size).toBe(0);
});

/**
 * Every wait of a list ended at once (a delete, a server become quiescent, a stop), counted on
 * the stepped turns' clock: a slice of them a turn, through the wake lane (src/queue/wake_lane.ts),
 * each ended once; a wait whose client left is skipped, one that came after stays; a close ends
 * what is left at once.
 */
describe("releasing every wait", () => {
  const clock = steppedTurnClock(0.1);
  /** Waits one turn may end: a look per CHECK_EVERY, and one more look's worth over (+1: sums of 0.1 fall a hair short). */
  const PER_TURN = CHECK_EVERY * (Math.round(WAKE_SLICE_MS / clock.step) + 2);
  const WAITERS = 5000;

  /** `count` waits on `list` (every other one a reliable read); what each was handed, in the order they ended. */
  function waits(list: WaiterList, count: number, first = 0): Array<{ waiter: number; item: string | null }> {
    const ended: Array<{ waiter: number; item: string | null }> = [];
    for (let waiter = first; waiter < first + count; waiter++) {
      list.add(waiter % 2 === 0 ? "remove" : "open", 60_000, (item) => ended.push({ waiter, item: item && text(item.data) }));
    }
    return ended;
  }

  /** Turns until `done`, checking that each ended at most PER_TURN waits; how many turns. */
  const turnsUntil = (done: () => boolean, ended: () => number): Promise<number> => turnsWithin(done, ended, PER_TURN);

  const nulls = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ waiter: from + i, item: null }));

  test("5,000 waits end a slice a turn, in line, each with nothing, once", async () => {
    const list = new WaiterList(() => undefined);
    const ended = waits(list, WAITERS);
    list.releaseAll();
    // Before the release went over turns, all 5,000 ended in this turn.
    expect(ended.length).toBeGreaterThan(0);
    expect(ended.length).toBeLessThanOrEqual(PER_TURN);
    const turns = await turnsUntil(
      () => ended.length === WAITERS,
      () => ended.length,
    );
    expect(turns).toBeGreaterThanOrEqual(Math.floor(WAITERS / PER_TURN));
    for (let turn = 0; turn < 3; turn++) await nextTurn();
    expect(ended).toEqual(nulls(0, WAITERS));
    expect(list.size).toBe(0);
  });

  test("a wait whose client left before its turn is skipped; one that came after the release began waits on, and the next item is its", async () => {
    const items = [bytes("x")];
    const list = new WaiterList(() => {
      const data = items.shift();
      return data && { id: 1, addTime: 0, expiry: 0, flags: 0, data };
    });
    const released = waits(list, 3 * PER_TURN);
    const gone: string[] = [];
    const leaving = list.add("open", 60_000, () => gone.push("answered"));
    list.releaseAll();
    list.cancel(leaving);
    const late = waits(list, 1, 3 * PER_TURN + 1);
    list.wake(0);
    expect(late).toEqual([{ waiter: 3 * PER_TURN + 1, item: "x" }]);
    await turnsUntil(
      () => released.length === 3 * PER_TURN,
      () => released.length,
    );
    expect(released).toEqual(nulls(0, 3 * PER_TURN));
    expect(gone).toEqual([]);
    expect(list.size).toBe(0);
  });

  test("a wait whose deadline comes while it waits for its release is ended once", async () => {
    const list = new WaiterList(() => undefined);
    const ended = waits(list, 3 * PER_TURN);
    let calls = 0;
    const { promise: lastEnded, resolve } = Promise.withResolvers<void>();
    list.add("remove", 1, () => (calls++, resolve()));
    list.releaseAll();
    await lastEnded; // by its deadline or by the release, whichever came first
    await turnsUntil(
      () => ended.length === 3 * PER_TURN,
      () => ended.length,
    );
    for (let turn = 0; turn < 3; turn++) await nextTurn();
    expect(calls).toBe(1);
    expect(ended).toEqual(nulls(0, 3 * PER_TURN));
    expect(list.size).toBe(0);
  });

  test("releaseNow (the queue closes) ends at once every wait, those a release over turns had not reached too", async () => {
    const list = new WaiterList(() => undefined);
    const ended = waits(list, WAITERS);
    list.releaseAll();
    const more = waits(list, 2, WAITERS);
    list.releaseNow();
    expect(ended).toEqual(nulls(0, WAITERS));
    expect(more).toEqual(nulls(WAITERS, WAITERS + 2));
    for (let turn = 0; turn < 3; turn++) await nextTurn();
    expect(ended.length + more.length).toBe(WAITERS + 2);
    expect(list.size).toBe(0);
  });
});
