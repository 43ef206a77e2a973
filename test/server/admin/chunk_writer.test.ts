import { describe, expect, test } from "bun:test";
import { ChunkWriter } from "../../../src/server/admin/chunk_writer.ts";

/** What `write` wrote, as text. */
function written(write: (out: ChunkWriter) => void, chunkBytes = 64): string {
  const out = new ChunkWriter(chunkBytes);
  write(out);
  return new TextDecoder().decode(out.take());
}

describe("ChunkWriter", () => {
  test("numbers are written as String() writes them", () => {
    const values = [0, -0, 7, 10, 99, 100, 123456789, -42, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, 1.5, -0.25, 1e21, NaN, Infinity, -Infinity];
    expect(written((out) => values.forEach((value) => (out.number(value), out.text(" "))), 16)).toBe(values.map((value) => `${String(value)} `).join(""));
  });

  test("text is UTF-8, whatever it holds", () => {
    const pieces = ["plain", "é", "€uro", "𝄞 clef", "abcé", "ascii then €", "", ",", "x".repeat(5000), "ünïcödé".repeat(1000)];
    expect(written((out) => pieces.forEach((piece) => out.text(piece)))).toBe(pieces.join(""));
  });

  test("a chunk is full at chunkBytes; take hands over what was written and starts a new one", () => {
    const out = new ChunkWriter(10);
    expect(out.take()).toHaveLength(0);
    out.text("12345");
    expect(out.full).toBe(false);
    out.number(67890);
    expect(out.full).toBe(true);
    out.text("ab");
    const first = out.take();
    expect(Buffer.from(first).toString()).toBe("1234567890ab");
    expect(out.length).toBe(0);
    out.text("next");
    expect(Buffer.from(out.take()).toString()).toBe("next");
    expect(Buffer.from(first).toString()).toBe("1234567890ab"); // a chunk taken is not written over
  });

  test("a chunk under half chunkBytes is a copy of its own size (a shared body holds its chunks a while)", () => {
    const out = new ChunkWriter(1024);
    out.text("small");
    const small = out.take();
    expect(small.buffer.byteLength).toBe(5);
    out.text("x".repeat(600));
    expect(out.take().buffer.byteLength).toBeGreaterThanOrEqual(1024);
  });

  test("a piece bigger than a chunk goes whole into the one being written", () => {
    const out = new ChunkWriter(8);
    out.text("head:");
    out.text("z".repeat(100_000));
    out.number(12);
    expect(Buffer.from(out.take()).toString()).toBe(`head:${"z".repeat(100_000)}12`);
  });
});
