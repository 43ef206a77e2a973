import { describe, expect, test } from "bun:test";
import { flushExpiredNow } from "../helpers/expired_flush.ts";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/config/schema.ts";
import type { Item } from "../../src/journal/item.ts";
import { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { bytes, text } from "../helpers/bytes.ts";

const NOW = 1_795_000_000_000;

function makeQueue(overrides: Partial<QueueConfig> = {}, expired: Item[] = []) {
  const config = { ...DEFAULT_QUEUE_CONFIG, journal: false, ...overrides };
  return new PersistentQueue("q", config, null, { items: [], disk: null, nextId: 1 }, { expired: (_queue, item) => (expired.push(item), null) });
}

const put = (q: PersistentQueue, data: string, expiry = 0, now = NOW) => q.add(bytes(data), expiry, now);
const drain = (q: PersistentQueue, now = NOW) => {
  const out: string[] = [];
  for (let item = q.remove(now); item !== undefined; item = q.remove(now)) out.push(text(item.data));
  return out;
};

describe("PersistentQueue", () => {
  test("is FIFO and keeps count and bytes", () => {
    const q = makeQueue();
    for (const data of ["a", "bb", "ccc"]) expect(typeof put(q, data)).toBe("object");
    expect(q.stats()).toMatchObject({ items: 3, bytes: 6, totalItems: 3 });
    expect(text(q.peek(NOW)!.data)).toBe("a");
    expect(drain(q)).toEqual(["a", "bb", "ccc"]);
    expect(q.stats()).toMatchObject({ items: 0, bytes: 0, totalItems: 3 });
  });

  test("open items leave the queue until confirmed or aborted back to the head", () => {
    const q = makeQueue();
    put(q, "a");
    put(q, "b");
    const a = q.open(NOW)!;
    expect(q.stats()).toMatchObject({ items: 1, openTransactions: 1 });
    q.abort(a, NOW);
    expect(q.stats().openTransactions).toBe(0);
    const again = q.open(NOW)!;
    expect(text(again.data)).toBe("a");
    q.confirm(again);
    q.confirm(again);
    expect(drain(q)).toEqual(["b"]);
  });

  test("max_items and max_size refuse, max_item_size refuses big items", () => {
    const q = makeQueue({ maxItems: 2, maxSize: 6, maxItemSize: 6 });
    expect(put(q, "1234567")).toBe("too large");
    put(q, "12345");
    put(q, "1");
    expect(put(q, "x")).toBe("full");
    q.remove(NOW);
    expect(put(q, "123456")).toBe("full");
    expect(typeof put(q, "1234")).toBe("object");
  });

  test("discard_old_when_full drops the oldest items to make room", () => {
    const q = makeQueue({ maxItems: 3, discardOldWhenFull: true });
    for (const data of ["a", "b", "c", "d", "e"]) put(q, data);
    expect(q.stats().discarded).toBe(2);
    expect(drain(q)).toEqual(["c", "d", "e"]);
  });

  test("expired items are never returned and are counted (and handed to the hook)", () => {
    const expired: Item[] = [];
    const q = makeQueue({}, expired);
    put(q, "old", NOW + 1000);
    put(q, "forever");
    expect(q.peek(NOW + 1000)).toBeDefined();
    expect(text(q.peek(NOW + 1000)!.data)).toBe("forever");
    expect(q.stats().expiredItems).toBe(1);
    expect(expired.map((i) => text(i.data))).toEqual(["old"]);
  });

  test("age, as Kestrel 2 reports it: how long ago the last item taken was added, growing while nothing is taken", () => {
    const q = makeQueue();
    expect(q.stats(NOW + 100).age).toBe(0);
    put(q, "a");
    put(q, "b", 0, NOW + 1000);
    put(q, "c", 0, NOW + 2000);
    expect(q.stats(NOW + 500).age).toBe(500); // nothing taken yet: the oldest item's wait
    q.remove(NOW + 1500);
    expect(q.stats(NOW + 1500).age).toBe(1500);
    expect(q.stats(NOW + 4000).age).toBe(4000);
    q.open(NOW + 5000);
    expect(q.stats(NOW + 5000).age).toBe(4000);
    expect(q.stats(NOW - 3_600_000).age).toBe(0); // the clock set back: 0, never negative
    q.remove(NOW + 6000);
    expect(q.stats(NOW + 7000).age).toBe(0); // empty
  });

  test("transactions counts opens tried on a queue with items; canceled_transactions the opens that came back", () => {
    const q = makeQueue();
    expect(q.open(NOW)).toBeUndefined();
    put(q, "a");
    put(q, "b");
    const a = q.open(NOW)!;
    const b = q.open(NOW)!;
    expect(q.open(NOW)).toBeUndefined();
    q.abort(a, NOW);
    q.confirm(b);
    q.abort(b, NOW); // no longer open: nothing happens
    expect(q.stats()).toMatchObject({ transactions: 2, canceledTransactions: 1, items: 1 });
  });

  test("total_flushes counts flushes", () => {
    const q = makeQueue();
    put(q, "a");
    expect(q.flush().state).not.toBe("failed");
    expect(q.flush().state).not.toBe("failed");
    expect(q.stats()).toMatchObject({ totalFlushes: 2, items: 0 });
  });

  test("fanout_only: the queue keeps nothing and answers as if stored; a fanout child inheriting it keeps its items", () => {
    const parent = makeQueue({ fanoutOnly: true, maxItemSize: 3 });
    expect(typeof put(parent, "abc")).toBe("object");
    expect(put(parent, "abcd")).toBe("too large");
    expect(parent.stats()).toMatchObject({ items: 0, totalItems: 0 });
    const child = new PersistentQueue("q+c", { ...DEFAULT_QUEUE_CONFIG, journal: false, fanoutOnly: true }, null, { items: [], disk: null, nextId: 1 }, { expired: () => null });
    put(child, "x");
    expect(drain(child)).toEqual(["x"]);
  });

  test("max_expire_sweep caps the items one flush_expired removes", () => {
    const q = makeQueue({ maxExpireSweep: 2 });
    for (const data of ["a", "b", "c"]) put(q, data, NOW + 10);
    put(q, "live");
    expect(flushExpiredNow(q, NOW + 20)).toBe(2);
    expect(flushExpiredNow(q, NOW + 20)).toBe(1);
    expect(drain(q, NOW + 20)).toEqual(["live"]);
  });

  test("max_queue_age: ready to expire once empty and older than it, never with items, open items or waiters", () => {
    const created = 1000;
    const make = (maxQueueAge: number) =>
      new PersistentQueue("q", { ...DEFAULT_QUEUE_CONFIG, journal: false, maxQueueAge }, null, { items: [], disk: null, nextId: 1 }, { expired: () => null }, undefined, created);
    expect(make(0).readyToExpire(created + 1e9)).toBe(false);
    const q = make(500);
    expect(q.readyToExpire(created + 500)).toBe(false);
    expect(q.readyToExpire(created + 501)).toBe(true);
    put(q, "a");
    expect(q.readyToExpire(created + 501)).toBe(false);
    const open = q.open(NOW)!;
    expect(q.readyToExpire(created + 501)).toBe(false);
    q.confirm(open);
    const cancel = q.wait("remove", 60_000, () => {});
    expect(q.readyToExpire(created + 501)).toBe(false);
    cancel();
    expect(q.readyToExpire(created + 501)).toBe(true);
  });

  test("max_age caps every item's expiry", () => {
    const q = makeQueue({ maxAge: 5000 });
    put(q, "capped", 0);
    put(q, "earlier", NOW + 1000);
    expect(q.discardExpired(NOW + 4999)).toBe(0);
    expect(q.remove(NOW + 1000)?.data).toEqual(bytes("capped"));
    expect(q.remove(NOW + 1000)).toBeUndefined();
  });

  test("ignore_client_expiry keeps items whatever expiry the client gave; max_age still caps them", () => {
    const q = makeQueue({ ignoreClientExpiry: true });
    put(q, "past", 1);
    put(q, "soon", NOW + 1000);
    expect(q.discardExpired(NOW + 3_600_000)).toBe(0);
    expect(drain(q, NOW + 3_600_000)).toEqual(["past", "soon"]);
    const capped = makeQueue({ ignoreClientExpiry: true, maxAge: 5000 });
    put(capped, "later", NOW + 10_000);
    put(capped, "sooner", NOW + 1000);
    expect(capped.discardExpired(NOW + 4999)).toBe(0);
    expect(capped.discardExpired(NOW + 5000)).toBe(2);
  });

  test("flush_expired removes expired items anywhere in the queue", () => {
    const q = makeQueue();
    put(q, "keep1");
    put(q, "gone", NOW + 10);
    put(q, "keep2");
    expect(q.discardExpired(NOW + 20)).toBe(0);
    expect(flushExpiredNow(q, NOW + 20)).toBe(1);
    expect(drain(q)).toEqual(["keep1", "keep2"]);
  });

  test("waiters are served in arrival order and time out with null", async () => {
    const q = makeQueue();
    const got: string[] = [];
    q.wait("remove", 10_000, (item) => got.push(`first:${item && text(item.data)}`));
    q.wait("peek", 10_000, (item) => got.push(`peek:${item && text(item.data)}`));
    q.wait("open", 10_000, (item) => got.push(`second:${item && text(item.data)}`));
    const timedOut = new Promise((resolve) => q.wait("remove", 1, resolve));
    expect(q.stats().waiters).toBe(4);
    put(q, "x");
    put(q, "y");
    expect(got).toEqual(["first:x", "peek:y", "second:y"]);
    expect(await timedOut).toBeNull();
    expect(q.stats()).toMatchObject({ waiters: 0, items: 0, openTransactions: 1 });
  });

  test("a cancelled waiter gets nothing and doesn't take an item", () => {
    const q = makeQueue();
    const got: Array<Item | null> = [];
    const cancel = q.wait("remove", 10_000, (item) => got.push(item));
    cancel();
    put(q, "x");
    expect(got).toEqual([]);
    expect(q.stats().items).toBe(1);
  });

  test("an aborted item wakes a waiter", () => {
    const q = makeQueue();
    put(q, "x");
    const item = q.open(NOW)!;
    const got: string[] = [];
    q.wait("remove", 10_000, (i) => got.push(text(i!.data)));
    q.abort(item, NOW);
    expect(got).toEqual(["x"]);
  });

  test("flush empties the queue but keeps open items open", () => {
    const q = makeQueue();
    put(q, "a");
    put(q, "b");
    const open = q.open(NOW)!;
    q.flush();
    expect(q.stats()).toMatchObject({ items: 0, openTransactions: 1 });
    q.abort(open, NOW);
    expect(drain(q)).toEqual(["a"]);
  });

  test("destroy releases waiters with null and refuses new items", () => {
    const q = makeQueue();
    const got: Array<Item | null> = [];
    q.wait("remove", 10_000, (item) => got.push(item));
    q.destroy();
    expect(got).toEqual([null]);
    expect(put(q, "x")).toBe("read-only");
  });
});
