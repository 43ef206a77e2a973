import { describe, expect, test } from "bun:test";
import { RenderChunks } from "../../../src/server/admin/render_chunks.ts";
import { countedRender, readAll } from "../../helpers/counted_render.ts";

describe("RenderChunks", () => {
  test("with skipBytes, the chunks are the render's bytes from that position on; every byte made is counted", () => {
    const body = countedRender(20_000);
    const bytes = Buffer.from(body.text);
    for (const skip of [0, 1, 4095, 65_536, 65_537, 300_001, bytes.length - 1, bytes.length]) {
      body.counts.made = 0;
      expect(readAll(new RenderChunks(body.render, body.onMade, skip))).toBe(bytes.subarray(skip).toString());
      expect(body.counts.made).toBe(bytes.length);
    }
  });

  test("close stops the render; a render done or closed gives nothing more", () => {
    let finished = false;
    function* endless(out: import("../../../src/server/admin/chunk_writer.ts").ChunkWriter): Generator<void> {
      try {
        for (;;) {
          out.text("x".repeat(100));
          yield;
        }
      } finally {
        finished = true;
      }
    }
    const chunks = new RenderChunks(endless);
    expect(chunks.next().bytes.length).toBeGreaterThan(0);
    chunks.close();
    expect(finished).toBe(true);
    expect(chunks.next()).toEqual({ bytes: new Uint8Array(0), done: true });
  });
});
