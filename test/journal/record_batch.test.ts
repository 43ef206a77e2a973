import { describe, expect, test } from "bun:test";
import { RecordBatch, releaseArenas } from "../../src/journal/record_batch.ts";
import { OP_REMOVE, encodeAdd, encodeIdRecord } from "../../src/journal/record.ts";
import { concat } from "../helpers/bytes.ts";

const itemOf = (id: number, size: number) => ({ id, addTime: 1_795_000_000_000 + id, expiry: 0, flags: id, data: new Uint8Array(size).fill(id % 251) });

/** Adds `count` items of `size` bytes and a REMOVE for each, returning the bytes the records must encode to. */
function fill(batch: RecordBatch, firstId: number, count: number, size: number): Uint8Array {
  const expected: Uint8Array[] = [];
  for (let id = firstId; id < firstId + count; id++) {
    batch.addItem(itemOf(id, size));
    batch.addId(OP_REMOVE, id);
    expected.push(...encodeAdd(itemOf(id, size)), encodeIdRecord(OP_REMOVE, id));
  }
  return concat(...expected);
}

describe("RecordBatch", () => {
  test("a batch spanning many arenas, and large items, encode exactly as single records do", () => {
    const batch = new RecordBatch();
    const expected = concat(fill(batch, 1, 300, 1000), fill(batch, 301, 3, 40_000));
    const taken = batch.take();
    expect(taken.size).toBe(expected.length);
    expect(concat(...taken.chunks)).toEqual(expected);
    expect(batch.size).toBe(0);
    expect(batch.take()).toEqual({ chunks: [], size: 0, records: 0, arenas: [] });
  });

  test("bytes taken stay intact until released, however much is added after them (in other arenas)", () => {
    const batch = new RecordBatch();
    const first = fill(batch, 1, 200, 1000);
    const taken = batch.take();
    const second = fill(batch, 201, 200, 1000);
    expect(concat(...taken.chunks)).toEqual(first);
    const next = batch.take();
    expect(concat(...next.chunks)).toEqual(second);
    const takenBuffers = new Set<ArrayBufferLike>(taken.arenas.map((arena) => arena.buffer));
    expect(next.arenas.some((arena) => takenBuffers.has(arena.buffer))).toBe(false);
  });

  test("a copied take owns no arena: they go back to the pool at once", () => {
    const batch = new RecordBatch();
    const expected = fill(batch, 1, 100, 1000);
    const taken = batch.take(true);
    expect(taken.arenas).toEqual([]);
    fill(batch, 101, 100, 2000);
    expect(concat(...taken.chunks)).toEqual(expected);
  });

  test("a copied take copies what is in arenas and hands out a large item's own bytes as they are", () => {
    const batch = new RecordBatch();
    const large = itemOf(2, 40_000);
    const before = fill(batch, 1, 1, 100);
    batch.addItem(large);
    const after = fill(batch, 3, 1, 100);
    const taken = batch.take(true);
    expect(concat(...taken.chunks)).toEqual(concat(before, ...encodeAdd(large), after));
    expect(taken.chunks.filter((chunk) => chunk.buffer === large.data.buffer)).toHaveLength(1);
    // The other chunks own their buffers: an arena's bytes would be a view of a 256 B or bigger one.
    expect(taken.chunks.filter((chunk) => chunk.buffer !== large.data.buffer).every((chunk) => chunk.byteLength === chunk.buffer.byteLength)).toBe(true);
  });

  test("after its arenas are released, the next big batch reuses them instead of allocating new ones", () => {
    const batch = new RecordBatch();
    fill(batch, 1, 300, 1000);
    const first = batch.take();
    const firstBuffers = new Set(first.chunks.map((chunk) => chunk.buffer));
    expect(new Set<ArrayBufferLike>(first.arenas.map((arena) => arena.buffer))).toEqual(firstBuffers);
    releaseArenas(first.arenas);
    const expected = fill(batch, 301, 300, 1000);
    const taken = batch.take();
    expect(concat(...taken.chunks)).toEqual(expected);
    expect(taken.chunks.every((chunk) => firstBuffers.has(chunk.buffer))).toBe(true);
  });
});

describe("RecordBatch arena boundaries", () => {
  // Regression: an id record that did not fit in the arena was written into the old arena, over a
  // record already queued, while the new arena's first bytes stayed zero.
  test("an id record that crosses into a new arena lands there, whatever the fill level", () => {
    for (let filler = 1; filler <= 40; filler++) {
      const batch = new RecordBatch();
      const expected: Uint8Array[] = [];
      let id = 1;
      // Small items until the arena is within a few id records of its end.
      while (batch.size < 64 * 1024 - 200 + filler) {
        const item = itemOf(id++, filler);
        batch.addItem(item);
        expected.push(...encodeAdd(item));
      }
      for (let i = 0; i < 20; i++) {
        batch.addId(OP_REMOVE, i + 1);
        expected.push(encodeIdRecord(OP_REMOVE, i + 1));
      }
      expect(concat(...batch.take().chunks)).toEqual(concat(...expected));
    }
  });
});
