/**
 * Blocking-get waits end at their deadlines on the monotonic clock: a wall clock that jumps
 * (setSystemTime: an operator, NTP stepping, a VM resumed) neither stretches nor cuts them.
 */
import { afterEach, expect, setSystemTime, test } from "bun:test";
import type { Item } from "../../src/journal/item.ts";
import { WaiterList } from "../../src/queue/waiters.ts";

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
