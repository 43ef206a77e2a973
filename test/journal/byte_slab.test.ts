import { describe, expect, test } from "bun:test";
import { copyBytes, copySurvivor, isFilling, ownedBytes } from "../../src/journal/byte_slab.ts";

describe("byte slabs", () => {
  test("a small view into a big buffer is copied out, into a slab shared with other small items", () => {
    const socketRead = new Uint8Array(65536).fill(7);
    const a = ownedBytes(socketRead.subarray(10, 20));
    const b = ownedBytes(socketRead.subarray(30, 40));
    expect(a.buffer).not.toBe(socketRead.buffer);
    expect(a.buffer).toBe(b.buffer);
    expect([...a]).toEqual(new Array(10).fill(7));
  });

  test("bytes that are most of their buffer, or already in a slab, are kept as they are", () => {
    const whole = new Uint8Array(100);
    expect(ownedBytes(whole)).toBe(whole);
    const big = new Uint8Array(1000);
    expect(ownedBytes(big.subarray(0, 600))).toEqual(big.subarray(0, 600));
    expect(ownedBytes(big.subarray(0, 600)).buffer).toBe(big.buffer);
    const inSlab = copyBytes(new Uint8Array([1, 2, 3]));
    expect(ownedBytes(inSlab)).toBe(inSlab);
  });

  test("survivors are packed apart from arriving bytes; empty bytes keep no slab", () => {
    const arrived = copyBytes(new Uint8Array([1, 2, 3]));
    const survivor = copySurvivor(arrived);
    expect([...survivor]).toEqual([1, 2, 3]);
    expect(survivor.buffer).not.toBe(arrived.buffer);
    expect(copySurvivor(new Uint8Array([4])).buffer).toBe(survivor.buffer);
    expect(isFilling(arrived.buffer) && isFilling(survivor.buffer)).toBe(true);
    expect(ownedBytes(survivor)).toBe(survivor);
    const empty = copyBytes(new Uint8Array(65536).subarray(5, 5));
    expect(empty.buffer.byteLength).toBe(0);
    expect(copySurvivor(new Uint8Array(0)).buffer.byteLength).toBe(0);
  });
});
