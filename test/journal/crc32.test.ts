import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { rememberCrc } from "../../src/data_crc.ts";
import { crc32Combine, crc32Then } from "../../src/journal/crc32.ts";

const concat = (a: Uint8Array, b: Uint8Array) => {
  const whole = new Uint8Array(a.length + b.length);
  whole.set(a);
  whole.set(b, a.length);
  return whole;
};

describe("crc32", () => {
  test("combine(crc(A), crc(B), |B|) is crc(A || B)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 4096 }), (a, b) => {
        expect(crc32Combine(Bun.hash.crc32(a), Bun.hash.crc32(b), b.length)).toBe(Bun.hash.crc32(concat(a, b)));
      }),
    );
  });

  test("a head then big data: the same as one pass, also when the data's CRC was kept from an earlier head", () => {
    const data = new Uint8Array(200_000).map((_, i) => (i * 31) % 251);
    for (const head of [new Uint8Array([1, 2, 3]), new Uint8Array(34).fill(9), new Uint8Array(0)]) {
      expect(crc32Then(head, data)).toBe(Bun.hash.crc32(concat(head, data)));
    }
  });

  test("a big buffer's CRC someone else worked out (the request parser) is used, not read again", () => {
    const data = new Uint8Array(100_000).fill(5);
    const head = new Uint8Array([7, 7]);
    // A deliberately different CRC shows it is the remembered one that is used.
    rememberCrc(data, 0x12345678);
    expect(crc32Then(head, data)).toBe(crc32Combine(Bun.hash.crc32(head), 0x12345678, data.length));
  });
});
