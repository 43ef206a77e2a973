import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Item } from "../../src/journal/item.ts";
import { homeCount } from "../../src/queue/byte_homes.ts";
import { ItemStore } from "../../src/queue/item_store.ts";

/** Item `id`, expiring at `id` (item 0 never expires). */
const itemOf = (id: number): Item => ({ id, addTime: 0, expiry: id, flags: 0, data: new Uint8Array(1) });

type Step = { op: "push" } | { op: "shift" } | { op: "unshift"; pick: number } | { op: "removeExpired"; modulo: number };

const steps = fc.array(
  fc.oneof(
    fc.constant<Step>({ op: "push" }),
    fc.constant<Step>({ op: "shift" }),
    fc.record({ op: fc.constant("unshift" as const), pick: fc.nat() }),
    fc.record({ op: fc.constant("removeExpired" as const), modulo: fc.integer({ min: 2, max: 5 }) }),
  ),
  { maxLength: 200 },
);

describe("ItemStore.minMemoryId", () => {
  test("equals the smallest id in memory after any pushes, shifts, put-backs and filters (O(1) bookkeeping)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 50 }), { maxLength: 20 }), steps, (initialIds, run) => {
        // Replay may hand over items in any order (put-back and aborted items first).
        let nextId = 100;
        const store = new ItemStore(null, Infinity, initialIds.map(itemOf), null, "q");
        const model: Item[] = initialIds.map(itemOf);
        const taken: Item[] = [];
        for (const step of run) {
          if (step.op === "push") {
            const item = itemOf(nextId++);
            store.push(item);
            model.push(item);
          } else if (step.op === "shift") {
            const item = store.shift();
            expect(item?.id).toBe(model.shift()?.id);
            if (item !== undefined) taken.push(item);
          } else if (step.op === "unshift") {
            const item = taken.splice(step.pick % Math.max(taken.length, 1), 1)[0];
            if (item === undefined) continue;
            store.unshift(item);
            model.unshift(item);
          } else {
            // Every item but item 0 has expired; `drop` takes the multiples of `modulo`, a block per call.
            const drop = (item: Item) => item.id % step.modulo === 0;
            let place: ReturnType<ItemStore["removeExpiredInMemory"]> = null;
            do place = store.removeExpiredInMemory(place, Infinity, drop, () => true);
            while (place !== null);
            model.splice(0, model.length, ...model.filter((item) => item.id === 0 || !drop(item)));
          }
          expect(store.memoryCount).toBe(model.length);
          expect(store.minMemoryId()).toBe(Math.min(Infinity, ...model.map((item) => item.id)));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("ItemStore takes the replayed items", () => {
  test("the array handed over is emptied, so a pointer left to it keeps no item object alive", async () => {
    // `handed` stands for a stale word on the stack that the collector takes for a pointer to
    // the replay's array (JavaScriptCore scans the stack conservatively).
    const handed = Array.from({ length: 1000 }, (_, i) => itemOf(i + 1));
    const objects = handed.map((item) => new WeakRef(item));
    const store = new ItemStore(null, Infinity, handed, null, "q");
    // A WeakRef's target is held until the current job ends; then a full collection.
    await new Promise((resolve) => setImmediate(resolve));
    Bun.gc(true);
    const alive = objects.filter((ref) => ref.deref() !== undefined).length;
    // The same conservative scan may keep a few through words of this test's own stack.
    expect(alive).toBeLessThan(20);
    expect(handed).toEqual([]);
    expect(store.count).toBe(1000);
    expect(Array.from({ length: 1000 }, () => store.shift()?.id)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });
});

describe("ItemStore keeps waiting items compactly", () => {
  test("behind a backlog, a small item sent in a buffer of its own (one set per socket read) is copied into a shared slab", () => {
    const store = new ItemStore(null, Infinity, [], null, "q");
    const before = homeCount();
    for (let id = 1; id <= 1064; id++) {
      const read = new Uint8Array(120); // a socket read: `set q 0 0 100\r\n`, the data, `\r\n`
      read.fill(id & 0xff, 15, 115);
      store.push({ ...itemOf(id), data: read.subarray(15, 115) });
    }
    // The first 64 keep their reads; the other 1,000 share slabs of 64 KiB (640 items each).
    expect(homeCount() - before).toBeLessThanOrEqual(64 + 3);
    for (let id = 1; id <= 1064; id++) {
      const item = store.shift()!;
      expect([item.id, item.data.length, item.data[0], item.data[99]]).toEqual([id, 100, id & 0xff, id & 0xff]);
    }
    expect(homeCount()).toBe(before);
  });
});
