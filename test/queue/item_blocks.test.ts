import { describe, expect, test } from "bun:test";
import type { Item } from "../../src/journal/item.ts";
import { homeCount } from "../../src/queue/byte_homes.ts";
import { ItemBlocks } from "../../src/queue/item_blocks.ts";

const slab = new Uint8Array(4096);
for (let i = 0; i < slab.length; i++) slab[i] = i & 0xff;

/** Item `id`, its bytes a 4-byte window of the shared slab (or its own buffer when `own`). */
function item(id: number, own = false): Item {
  const data = own ? Uint8Array.of(id & 0xff, 1, 2) : slab.subarray(id % 1000, (id % 1000) + 4);
  // Flags over the whole 32-bit range, the top bit included.
  return { id, addTime: id * 10, expiry: id % 3 === 0 ? 0 : id * 100, flags: Math.imul(id, 0x9e3779b1) >>> 0, data };
}

function ids(list: ItemBlocks): number[] {
  return [...list].map((it) => it.id);
}

describe("ItemBlocks", () => {
  test("keeps order across many blocks, with every field intact", () => {
    const list = new ItemBlocks();
    let next = 1;
    let expected = 1;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37; i++) list.push(item(next++));
      for (let i = 0; i < 30; i++) {
        const got = list.shift()!;
        const want = item(expected++);
        expect({ ...got, data: [...got.data] }).toEqual({ ...want, data: [...want.data] });
      }
    }
    expect(list.length).toBe(next - expected);
    expect(ids(list)[0]).toBe(expected);
    while (list.shift() !== undefined) expected++;
    expect(expected).toBe(next);
    expect(list.length).toBe(0);
    expect(list.peek()).toBeUndefined();
  });

  test("unshift puts an item back at the head; idAt and peek see it", () => {
    const list = new ItemBlocks();
    for (let id = 1; id <= 20; id++) list.push(item(id));
    const first = list.shift()!;
    list.unshift(item(99));
    list.unshift(first);
    expect(list.peek()).toBe(list.peek()); // one object per head, however often it is looked at
    expect(list.idAt(0)).toBe(1);
    expect(list.idAt(1)).toBe(99);
    expect(list.idAt(2)).toBe(2);
    expect(list.idAt(20)).toBe(20);
    expect(list.idAt(21)).toBeUndefined();
    expect(list.idAt(-1)).toBeUndefined();
    expect(ids(list)).toEqual([1, 99, ...Array.from({ length: 19 }, (_, i) => i + 2)]);
  });

  // [push, shift, unshift, retain] thresholds; the rest clears. One mix grows the list over many
  // blocks, one keeps it near empty (where blocks are dropped and kept).
  for (const [name, mix] of [
    ["growing", [0.45, 0.8, 0.995, 0.9995]],
    ["near empty", [0.4, 0.75, 0.9, 0.97]],
  ] as const) {
    test(`any mix of push, shift, unshift, retain and clear matches an array doing the same (${name})`, () => {
      for (let seed = 1; seed <= 20; seed++) checkAgainstModel(seed, mix);
    });
  }

  test("retain keeps the chosen items in order", () => {
    const list = new ItemBlocks();
    for (let id = 1; id <= 100; id++) list.push(item(id));
    list.retain((it) => it.id % 7 !== 0);
    expect(ids(list)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => id % 7 !== 0));
  });

  test("a home is counted while an item names it and forgotten when none does", () => {
    const before = homeCount();
    const list = new ItemBlocks();
    const ownSlab = new Uint8Array(64);
    for (let id = 1; id <= 10; id++) list.push({ ...item(id), data: ownSlab.subarray(id, id + 2) });
    for (let id = 11; id <= 15; id++) list.push(item(id, true)); // one buffer each
    expect(homeCount()).toBe(before + 1 + 5);
    for (let i = 0; i < 10; i++) list.shift();
    expect(homeCount()).toBe(before + 5);
    list.retain((it) => it.id !== 11);
    expect(homeCount()).toBe(before + 4);
    list.clear();
    expect(homeCount()).toBe(before);
    expect(list.length).toBe(0);
  });

  test("an item handed out keeps its bytes after its home is forgotten", () => {
    const list = new ItemBlocks();
    list.push(item(5, true));
    const out = list.shift()!;
    for (let id = 0; id < 100; id++) list.push(item(id, true)); // reuses freed home numbers
    expect([...out.data]).toEqual([5, 1, 2]);
  });
});

function checkAgainstModel(seed: number, [push, shift, unshift, retain]: readonly number[]): void {
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const list = new ItemBlocks();
  const model: number[] = [];
  let next = 1;
  for (let step = 0; step < 3000; step++) {
    const r = random();
    if (r < push!) {
      list.push(item(next));
      model.push(next++);
    } else if (r < shift!) {
      expect(list.shift()?.id).toBe(model.shift());
    } else if (r < unshift!) {
      list.unshift(item(next));
      model.unshift(next++);
    } else if (r < retain!) {
      const keep = (id: number) => id % 3 !== 0;
      list.retain((it) => keep(it.id));
      model.splice(0, model.length, ...model.filter(keep));
    } else {
      list.clear();
      model.length = 0;
    }
    expect(list.length).toBe(model.length);
    expect(list.peek()?.id).toBe(model[0]);
    const at = Math.floor(random() * (model.length + 1));
    expect(list.idAt(at)).toBe(model[at]);
  }
  expect(ids(list)).toEqual(model);
}

test("lists filled in lockstep (a fanout's children) start their new blocks at different items", () => {
  const lists = Array.from({ length: 500 }, () => new ItemBlocks());
  let mostAtOnce = 0;
  for (let id = 1; id <= 5000; id++) {
    let started = 0;
    for (const list of lists) {
      const before = list.blockCount;
      list.push(item(id));
      if (list.blockCount > before) started++;
    }
    // The first push starts every list's first block; after that, no more than one in six at once.
    if (id > 1) mostAtOnce = Math.max(mostAtOnce, started);
  }
  expect(mostAtOnce).toBeGreaterThan(0);
  expect(mostAtOnce).toBeLessThanOrEqual(500 / 6);
  for (const list of lists) list.clear();
});
