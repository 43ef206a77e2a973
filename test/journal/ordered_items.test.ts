import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Item } from "../../src/journal/item.ts";
import { OrderedItems } from "../../src/journal/ordered_items.ts";

const itemOf = (id: number): Item => ({ id, addTime: 0, expiry: 0, flags: 0, data: new Uint8Array(0) });

describe("OrderedItems", () => {
  test("behaves as an insertion-ordered Map under any adds (in order or not) and deletes", () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant("add" as const), id: fc.integer({ min: 1, max: 3000 }) }),
      fc.record({ op: fc.constant("next" as const) }),
      fc.record({ op: fc.constant("delete" as const), id: fc.integer({ min: 1, max: 3000 }) }),
      fc.record({ op: fc.constant("deleteFirst" as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 3000 }), (steps) => {
        const items = new OrderedItems();
        const model = new Map<number, Item>();
        let nextId = 1;
        for (const s of steps) {
          if (s.op === "next" || (s.op === "add" && !model.has(s.id))) {
            const id = s.op === "next" ? nextId : s.id;
            if (model.has(id)) continue;
            nextId = Math.max(nextId, id + 1);
            items.add(itemOf(id));
            model.set(id, itemOf(id));
          } else if (s.op === "delete") {
            expect(items.delete(s.id)?.id).toBe(model.get(s.id)?.id);
            model.delete(s.id);
          } else if (s.op === "deleteFirst") {
            const first = model.keys().next().value;
            expect(items.first()?.id).toBe(first);
            if (first !== undefined) {
              items.delete(first);
              model.delete(first);
            }
          }
          expect(items.size).toBe(model.size);
        }
        expect([...items.values()].map((item) => item.id)).toEqual([...model.keys()]);
        for (const id of [1, 2, 1500, 2999]) expect(items.has(id)).toBe(model.has(id));
      }),
      { numRuns: 200 },
    );
  });

  test("a long run of in-order adds removed from the front stays an array and keeps order", () => {
    const items = new OrderedItems();
    for (let id = 1; id <= 10_000; id++) items.add(itemOf(id));
    for (let id = 1; id <= 9_000; id++) expect(items.delete(id)?.id).toBe(id);
    expect(items.first()?.id).toBe(9001);
    expect(items.get(9500)?.id).toBe(9500);
    expect([...items.values()].length).toBe(1000);
  });
});
