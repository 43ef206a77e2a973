import { expect, test } from "bun:test";
import { makePayload, readPayload } from "../../bench/lib/soak_items.ts";

test("a payload names its producer and number, at the size asked (64 bytes at least)", () => {
  for (const size of [0, 10, 64, 65, 1000, 100_000]) {
    const data = makePayload("e12p3", 4567, size);
    expect(data.length).toBe(Math.max(size, 64));
    expect(readPayload(data)).toBe("e12p3/4567");
  }
});

test("a damaged, cut, lengthened or foreign payload is not taken for one that was sent", () => {
  const data = makePayload("e1p0", 42, 300);
  for (let i = 0; i < data.length; i++) {
    const flipped = new Uint8Array(data);
    flipped[i] = flipped[i]! ^ 1;
    expect(readPayload(flipped)).not.toBe("e1p0/42");
  }
  for (let cut = 0; cut < data.length; cut++) expect(readPayload(data.subarray(0, cut))).toBeNull();
  expect(readPayload(new Uint8Array([...data, 97]))).toBeNull();
  expect(readPayload(Buffer.from("hello"))).toBeNull();
  expect(readPayload(makePayload("e1p0", 43, 300).fill(97, 20))).toBeNull();
});
