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

  // [push, shift, unshift, removeExpired] thresholds; the rest clears. One mix grows the list over many
  // blocks, one keeps it near empty (where blocks are dropped and kept).
  for (const [name, mix] of [
    ["growing", [0.45, 0.8, 0.995, 0.9995]],
    ["near empty", [0.4, 0.75, 0.9, 0.97]],
  ] as const) {
    test(`any mix of push, shift, unshift, removeExpired and clear matches an array doing the same (${name})`, () => {
      for (let seed = 1; seed <= 20; seed++) checkAgainstModel(seed, mix);
    });
  }

  test("removeExpired removes the expired items drop takes, keeps the rest in order, and makes no object for them", () => {
    const list = new ItemBlocks();
    for (let id = 1; id <= 3000; id++) list.push(item(id));
    const handed: number[] = [];
    const places: number[] = [];
    const expired = (expiry: number) => expiry !== 0 && expiry % 700 === 0; // ids that are multiples of 7, but not of 3
    const drop = (it: Item, place: number) => {
      handed.push(it.id);
      places.push(place);
      return it.id % 2 === 0; // the odd ones stay (a move_expired_to target that is full)
    };
    expect(list.removeExpired(null, expired, drop, () => false)).toBeNull();
    const all = Array.from({ length: 3000 }, (_, i) => i + 1);
    const picked = all.filter((id) => id % 7 === 0 && id % 3 !== 0);
    expect(handed).toEqual(picked);
    expect(places).toEqual(picked.map((id) => id - 1));
    expect(ids(list)).toEqual(all.filter((id) => !(id % 7 === 0 && id % 3 !== 0 && id % 2 === 0)));
    expect(list.length).toBe(ids(list).length);
    const kept = [...list];
    expect(kept.every((it) => it.addTime === it.id * 10 && it.flags === item(it.id).flags && it.data[0] === it.id % 1000 % 256)).toBe(true);
  });

  test("removeExpired in slices: the list changes between them, every item is looked at once unless taken first", () => {
    const list = new ItemBlocks();
    let next = 1;
    for (; next <= 5000; next++) list.push(item(next));
    const expired = (expiry: number) => expiry !== 0;
    const looked = new Set<number>();
    let place: ReturnType<ItemBlocks["removeExpired"]> = null;
    let blocks = 0;
    const taken: number[] = [];
    do {
      if (looked.size > 0) {
        for (let i = 0; i < 40; i++) taken.push(list.shift()!.id);
        list.push(item(next++));
      }
      blocks = 0;
      place = list.removeExpired(place, expired, (it) => (looked.add(it.id), true), () => ++blocks === 2);
    } while (place !== null);
    // Everything left is unexpired (ids that are multiples of 3); nothing was looked at twice or after it was taken.
    expect(ids(list).every((id) => id % 3 === 0)).toBe(true);
    expect(ids(list)).toEqual([...ids(list)].sort((a, b) => a - b));
    for (const id of taken) expect(looked.has(id) && ids(list).includes(id)).toBe(false);
    expect(looked.size + taken.length + list.length).toBe(next - 1);
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
    list.removeExpired(null, () => true, (it) => it.id === 11, () => false);
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
      // Items with ids that are multiples of 5 (and not of 3: those never expire) go, in slices.
      const goes = (id: number) => id % 5 === 0 && id % 3 !== 0;
      let place: ReturnType<ItemBlocks["removeExpired"]> = null;
      do place = list.removeExpired(place, (expiry) => expiry !== 0 && expiry % 500 === 0, () => true, () => random() < 0.5);
      while (place !== null);
      model.splice(0, model.length, ...model.filter((id) => !goes(id)));
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
