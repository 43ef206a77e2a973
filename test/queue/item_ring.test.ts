import { describe, expect, test } from "bun:test";
import type { Item } from "../../src/journal/item.ts";
import { homeCount } from "../../src/queue/byte_homes.ts";
import { ItemRing } from "../../src/queue/item_ring.ts";

const slab = new Uint8Array(4096);
for (let i = 0; i < slab.length; i++) slab[i] = i & 0xff;

/** Item `id`, its bytes a 4-byte window of the shared slab (or its own buffer when `own`). */
function item(id: number, own = false): Item {
  const data = own ? Uint8Array.of(id & 0xff, 1, 2) : slab.subarray(id % 1000, (id % 1000) + 4);
  return { id, addTime: id * 10, expiry: id % 3 === 0 ? 0 : id * 100, data };
}

function ids(ring: ItemRing): number[] {
  return [...ring].map((it) => it.id);
}

describe("ItemRing", () => {
  test("keeps order across growth, wrap-around and shrinking, with every field intact", () => {
    const ring = new ItemRing();
    let next = 1;
    let expected = 1;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37; i++) ring.push(item(next++));
      for (let i = 0; i < 30; i++) {
        const got = ring.shift()!;
        const want = item(expected++);
        expect({ ...got, data: [...got.data] }).toEqual({ ...want, data: [...want.data] });
      }
    }
    expect(ring.length).toBe(next - expected);
    expect(ids(ring)[0]).toBe(expected);
    while (ring.shift() !== undefined) expected++;
    expect(expected).toBe(next);
    expect(ring.length).toBe(0);
    expect(ring.peek()).toBeUndefined();
  });

  test("unshift puts an item back at the head; idAt and peek see it", () => {
    const ring = new ItemRing();
    for (let id = 1; id <= 20; id++) ring.push(item(id));
    const first = ring.shift()!;
    ring.unshift(item(99));
    ring.unshift(first);
    expect(ring.peek()).toBe(ring.peek()); // one object per head, however often it is looked at
    expect(ring.idAt(0)).toBe(1);
    expect(ring.idAt(1)).toBe(99);
    expect(ring.idAt(2)).toBe(2);
    expect(ring.idAt(20)).toBe(20);
    expect(ring.idAt(21)).toBeUndefined();
    expect(ring.idAt(-1)).toBeUndefined();
    expect(ids(ring)).toEqual([1, 99, ...Array.from({ length: 19 }, (_, i) => i + 2)]);
  });

  test("retain keeps the chosen items in order", () => {
    const ring = new ItemRing();
    for (let id = 1; id <= 100; id++) ring.push(item(id));
    ring.retain((it) => it.id % 7 !== 0);
    expect(ids(ring)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => id % 7 !== 0));
  });

  test("a home is counted while an item names it and forgotten when none does", () => {
    const before = homeCount();
    const ring = new ItemRing();
    const ownSlab = new Uint8Array(64);
    for (let id = 1; id <= 10; id++) ring.push({ ...item(id), data: ownSlab.subarray(id, id + 2) });
    for (let id = 11; id <= 15; id++) ring.push(item(id, true)); // one buffer each
    expect(homeCount()).toBe(before + 1 + 5);
    for (let i = 0; i < 10; i++) ring.shift();
    expect(homeCount()).toBe(before + 5);
    ring.retain((it) => it.id !== 11);
    expect(homeCount()).toBe(before + 4);
    ring.clear();
    expect(homeCount()).toBe(before);
    expect(ring.length).toBe(0);
  });

  test("an item handed out keeps its bytes after its home is forgotten", () => {
    const ring = new ItemRing();
    ring.push(item(5, true));
    const out = ring.shift()!;
    for (let id = 0; id < 100; id++) ring.push(item(id, true)); // reuses freed home numbers
    expect([...out.data]).toEqual([5, 1, 2]);
  });
});
