import { describe, expect, test } from "bun:test";
import { edenGC, fullGC, heapStats } from "bun:jsc";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/config/schema.ts";
import type { Item } from "../../src/journal/item.ts";
import { bytesAt, heldBytes, homeCount, liveBytes } from "../../src/queue/byte_homes.ts";
import { CLOSED_SLACK, OpenItems, RELEASE_SLICE } from "../../src/queue/open_items.ts";
import { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { TestTimer } from "../helpers/test_timer.ts";

const NOW = 1_795_000_000_000;
const TIMEOUT_MS = 1000;

function makeQueue(overrides: Partial<QueueConfig> = {}) {
  const timer = new TestTimer();
  const config = { ...DEFAULT_QUEUE_CONFIG, journal: false, openTransactionTimeout: TIMEOUT_MS, ...overrides };
  const queue = new PersistentQueue("q", config, null, { items: [], disk: null, nextId: 1 }, { expired: () => null }, timer);
  return { queue, timer };
}

function fill(queue: PersistentQueue, ...data: string[]): void {
  for (const entry of data) queue.add(bytes(entry), 0, NOW);
}

function drain(queue: PersistentQueue): string[] {
  const out: string[] = [];
  for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) out.push(text(item.data));
  return out;
}

/** Opens the head, its reply delivered at once: its timeout starts now. */
const open = (queue: PersistentQueue): Item => {
  const item = queue.open(NOW)!;
  queue.delivered(item);
  return item;
};

describe("open_transaction_timeout", () => {
  test("an item open longer than the timeout goes back to the head and is counted", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a", "b");
    open(queue);
    timer.advance(TIMEOUT_MS - 1);
    expect(queue.stats()).toMatchObject({ items: 1, openTransactions: 1, openTransactionsTimedOut: 0 });
    timer.advance(1);
    expect(queue.stats()).toMatchObject({ items: 2, openTransactions: 0, openTransactionsTimedOut: 1 });
    expect(drain(queue)).toEqual(["a", "b"]);
  });

  test("the stale holder's confirm and abort settle nothing, not even the same item opened again", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a", "b");
    const stale = open(queue);
    timer.advance(TIMEOUT_MS);
    expect(queue.isOpen(stale)).toBe(false);
    queue.confirm(stale);
    expect(queue.stats()).toMatchObject({ items: 2, openTransactions: 0 });

    const again = open(queue);
    expect([again.id, text(again.data)]).toEqual([stale.id, "a"]);
    queue.confirm(stale);
    queue.abort(stale, NOW);
    expect(queue.stats()).toMatchObject({ items: 1, openTransactions: 1 });
    expect(queue.isOpen(again)).toBe(true);
    queue.confirm(again);
    expect(queue.stats()).toMatchObject({ items: 1, openTransactions: 0 });
    expect(drain(queue)).toEqual(["b"]);
  });

  test("items closed or aborted in time are left alone", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a", "b", "c");
    queue.confirm(open(queue));
    queue.abort(open(queue), NOW);
    const held = open(queue);
    timer.advance(TIMEOUT_MS / 2);
    queue.confirm(held);
    timer.advance(TIMEOUT_MS);
    expect(queue.stats()).toMatchObject({ items: 1, openTransactions: 0, openTransactionsTimedOut: 0 });
    expect(drain(queue)).toEqual(["c"]);
  });

  test("items timing out together go back in the order they were opened; a later one goes in front, as a later abort does", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a", "b", "c", "d");
    open(queue);
    open(queue);
    timer.advance(10);
    open(queue);
    timer.advance(TIMEOUT_MS - 10);
    expect(queue.stats()).toMatchObject({ openTransactions: 1, openTransactionsTimedOut: 2 });
    timer.advance(10);
    expect(queue.stats()).toMatchObject({ openTransactions: 0, openTransactionsTimedOut: 3 });
    // a and b were found due together at 1000 ms; c at 1010 ms, later, so in front of them.
    expect(drain(queue)).toEqual(["c", "a", "b", "d"]);
  });

  test("a blocking open gets the item that timed out", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a");
    const first = open(queue);
    const delivered: Array<Item | null> = [];
    queue.wait("open", 60_000, (item) => delivered.push(item));
    timer.advance(TIMEOUT_MS);
    expect(delivered.map((item) => (item === null ? null : text(item.data)))).toEqual(["a"]);
    expect(queue.isOpen(delivered[0]!)).toBe(true);
    expect(queue.isOpen(first)).toBe(false);
    expect(queue.stats()).toMatchObject({ items: 0, openTransactions: 1, openTransactionsTimedOut: 1 });
  });

  test("thousands of open items share one deadline and go back a slice per turn, in order", () => {
    const count = 2 * RELEASE_SLICE + 500;
    const { queue, timer } = makeQueue();
    fill(queue, ...Array.from({ length: count }, (_, index) => String(index)));
    for (let index = 0; index < count; index++) open(queue);
    expect(timer.deadlinesAdded).toBe(1);
    timer.advance(TIMEOUT_MS);
    expect(queue.stats()).toMatchObject({ items: RELEASE_SLICE, openTransactions: count - RELEASE_SLICE });
    timer.advance(1);
    timer.advance(1);
    expect(queue.stats()).toMatchObject({ items: count, openTransactions: 0, openTransactionsTimedOut: count });
    expect(timer.deadlinesAdded).toBe(3);
    expect(drain(queue)).toEqual(Array.from({ length: count }, (_, index) => String(index)));
  });

  test("an item confirmed after it was found due but before its slice ran stays confirmed", () => {
    const count = RELEASE_SLICE + 1;
    const { queue, timer } = makeQueue();
    fill(queue, ...Array.from({ length: count }, (_, index) => String(index)));
    const items = Array.from({ length: count }, () => open(queue));
    timer.advance(TIMEOUT_MS);
    // The newest RELEASE_SLICE went back first; the oldest is still open, and its holder in time.
    expect(queue.isOpen(items[0]!)).toBe(true);
    queue.confirm(items[0]!);
    timer.advance(1);
    expect(queue.stats()).toMatchObject({ items: count - 1, openTransactions: 0, openTransactionsTimedOut: count - 1 });
  });

  test("a reload's timeout applies to the items open now, from when their replies were delivered; 0 turns it off", () => {
    const { queue, timer } = makeQueue({ openTransactionTimeout: 0 });
    fill(queue, "a", "b");
    open(queue);
    timer.advance(5 * TIMEOUT_MS);
    expect(queue.stats().openTransactions).toBe(1);
    queue.reconfigure({ ...queue.settings, openTransactionTimeout: TIMEOUT_MS });
    timer.advance(0);
    expect(queue.stats()).toMatchObject({ openTransactions: 0, openTransactionsTimedOut: 1 });

    open(queue);
    queue.reconfigure({ ...queue.settings, openTransactionTimeout: 0 });
    timer.advance(5 * TIMEOUT_MS);
    expect(queue.stats()).toMatchObject({ openTransactions: 1, openTransactionsTimedOut: 1 });
  });

  test("an item whose reply was not delivered yet never times out; once it is, its timeout counts from then", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a", "b");
    const item = queue.open(NOW)!;
    timer.advance(10 * TIMEOUT_MS);
    expect(queue.stats()).toMatchObject({ items: 1, openTransactions: 1, openTransactionsTimedOut: 0 });
    queue.delivered(item);
    timer.advance(TIMEOUT_MS - 1);
    expect(queue.stats()).toMatchObject({ openTransactions: 1, openTransactionsTimedOut: 0 });
    timer.advance(1);
    expect(queue.stats()).toMatchObject({ items: 2, openTransactions: 0, openTransactionsTimedOut: 1 });
    expect(drain(queue)).toEqual(["a", "b"]);
  });

  test("items go back in the order their replies were delivered; a second delivery, or one after a close, changes nothing", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a", "b", "c");
    const [a, b, c] = [queue.open(NOW)!, queue.open(NOW)!, queue.open(NOW)!];
    queue.delivered(b);
    timer.advance(10);
    queue.delivered(a);
    queue.delivered(b);
    queue.confirm(c);
    queue.delivered(c);
    timer.advance(TIMEOUT_MS - 10);
    expect(queue.isOpen(b)).toBe(false);
    expect(queue.stats()).toMatchObject({ openTransactions: 1, openTransactionsTimedOut: 1 });
    timer.advance(10);
    expect(queue.stats()).toMatchObject({ openTransactions: 0, openTransactionsTimedOut: 2 });
    // a went back after b, so in front of it, as a later abort would.
    expect(drain(queue)).toEqual(["a", "b"]);
  });

  test("a reload's timeout applies to the delivered items from their delivery, and never to those not delivered", () => {
    const { queue, timer } = makeQueue({ openTransactionTimeout: 0 });
    fill(queue, "a", "b");
    const a = queue.open(NOW)!;
    queue.delivered(a);
    queue.open(NOW);
    timer.advance(5 * TIMEOUT_MS);
    queue.reconfigure({ ...queue.settings, openTransactionTimeout: TIMEOUT_MS });
    timer.advance(0);
    expect(queue.stats()).toMatchObject({ items: 1, openTransactions: 1, openTransactionsTimedOut: 1 });
    timer.advance(5 * TIMEOUT_MS);
    expect(queue.stats()).toMatchObject({ items: 1, openTransactions: 1, openTransactionsTimedOut: 1 });
  });

  test("a deleted or closed queue times nothing out", () => {
    const { queue, timer } = makeQueue();
    fill(queue, "a");
    open(queue);
    queue.close();
    timer.advance(TIMEOUT_MS);
    // Closing gave up its memory, the open item's too: nothing was timed out or put back.
    expect(queue.stats()).toMatchObject({ openTransactions: 0, openTransactionsTimedOut: 0, items: 0 });
  });
});

describe("OpenItems bookkeeping", () => {
  const itemNumbered = (id: number): Item => ({ id, addTime: NOW, expiry: 0, flags: 0, data: bytes(`item ${id}`) });
  const timedOutItems: Item[] = [];
  const openItems = (timer: TestTimer) => new OpenItems("q", TIMEOUT_MS, { timedOut: (item) => timedOutItems.push(item) }, timer);
  /** Adds `item` and starts its timeout (its reply delivered at once). */
  const addStarted = (open: OpenItems, item: Item) => {
    open.add(item);
    open.start(item);
  };

  test("items closed out of order: the rest are listed oldest first, and the oldest open one times out first", () => {
    const timer = new TestTimer();
    const open = openItems(timer);
    const items = [1, 2, 3, 4, 5].map(itemNumbered);
    for (const item of items) {
      addStarted(open, item);
      timer.advance(10);
    }
    for (const i of [1, 3, 0]) expect(open.take(items[i]!)).toBe(true);
    expect(open.take(items[1]!)).toBe(false);
    expect(open.items().map((item) => item.id)).toEqual([3, 5]);
    expect([...open.ids()]).toEqual([3, 5]);
    expect(open.size).toBe(2);
    expect(open.holds(items[2]!)).toBe(true);
    expect(open.holds({ ...items[2]! })).toBe(false);
    timedOutItems.length = 0;
    timer.advance(TIMEOUT_MS - 50 + 20); // item 3 opened at 20, item 5 at 40
    expect(timedOutItems.map((item) => item.id)).toEqual([3]);
    timer.advance(20);
    expect(timedOutItems.map((item) => item.id)).toEqual([3, 5]);
    expect(open.size).toBe(0);
  });

  test("an item held open while thousands open and close behind it: closed entries don't pile up", () => {
    const timer = new TestTimer();
    const open = openItems(timer);
    const first = itemNumbered(1);
    addStarted(open, first);
    for (let id = 2; id < 10_000; id++) {
      const item = itemNumbered(id);
      open.add(item);
      if (id % 3 !== 0) open.start(item); // some close before their reply went out
      if (id % 100 !== 0) open.take(item); // every hundredth stays open
      expect(open.entriesHeld.order).toBeLessThanOrEqual(2 * open.size + CLOSED_SLACK);
      expect(open.entriesHeld.timing).toBeLessThanOrEqual(2 * open.size + CLOSED_SLACK);
    }
    expect(open.size).toBe(1 + 99);
    expect(open.items()[0]).toBe(first);
    expect(open.items().slice(1).map((item) => item.id)).toEqual(Array.from({ length: 99 }, (_, i) => (i + 1) * 100));
    open.take(first);
    expect(open.items()[0]!.id).toBe(100);
  });
});

test("items opened and closed one after another are not kept into the old generation", () => {
  // One open and one close per reliable read. With a Map of open items, the closed ones stayed
  // reachable for the young-generation collections, which moved them (and their bytes) to the old
  // generation, where only a full collection (a long pause) frees them.
  const open = new OpenItems("q", TIMEOUT_MS, { timedOut: () => {} }, new TestTimer());
  fullGC();
  const live: Item[] = [];
  for (let id = 1; id <= 40_000; id++) {
    const item: Item = { id, addTime: NOW, expiry: 0, flags: 0, data: new Uint8Array(1024) };
    open.add(item);
    open.start(item);
    live.push(item);
    if (live.length > 10) open.take(live.shift()!);
  }
  for (const item of live.splice(0)) open.take(item);
  edenGC();
  const afterYoung = heapStats().heapSize;
  fullGC();
  expect(afterYoung - heapStats().heapSize).toBeLessThan(1024 * 1024);
});

test("relocating open items a step at a time, while some close between steps: each open one moves once, equal bytes, the same object", () => {
  const open = new OpenItems("q", 0, { timedOut: () => {} }, new TestTimer());
  const [homes, held, live] = [homeCount(), heldBytes(), liveBytes()];
  // Each item is the only one open in a 64 KiB buffer: every home is sparse.
  const items = Array.from({ length: 50 }, (_, i): Item => {
    const buffer = new Uint8Array(64 * 1024).fill(i);
    return { id: i + 1, addTime: NOW, expiry: 0, flags: 0, data: buffer.subarray(100, 103) };
  });
  for (const item of items) open.add(item);
  expect(liveBytes() - live).toBe(150);
  const sent = items.map((item) => item.data);
  let moves = 0;
  const moveOut = (home: number, offset: number, length: number) => (moves++, new Uint8Array(bytesAt(home, offset, length)));
  let place = open.relocate(null, moveOut, (looked) => looked >= 3);
  while (place !== null) {
    // The item the next step would start from closes, and so does the oldest: the head's closed entries are dropped.
    open.take((place as { readonly item: Item }).item);
    open.take(open.items()[0]!);
    place = open.relocate(place, moveOut, (looked) => looked >= 3);
  }
  const still = items.filter((item) => open.holds(item));
  expect(still.length).toBeGreaterThan(10);
  for (const item of still) {
    expect(item.data).not.toBe(sent[item.id - 1]!);
    expect([...item.data]).toEqual([item.id - 1, item.id - 1, item.id - 1]);
    expect([...sent[item.id - 1]!]).toEqual([item.id - 1, item.id - 1, item.id - 1]);
  }
  expect(moves).toBeLessThanOrEqual(items.length);
  for (const item of still) expect(open.take(item)).toBe(true);
  expect([homeCount(), heldBytes(), liveBytes()]).toEqual([homes, held, live]);
});
