import { describe, expect, test } from "bun:test";
import type { ChunkWriter } from "../../../src/server/admin/chunk_writer.ts";
import { piecesWritten, RenderChunks, type ChunkSource } from "../../../src/server/admin/render_chunks.ts";
import { streamedResponse } from "../../../src/server/admin/streamed_body.ts";
import { ADMIN_TURN_BYTES } from "../../../src/server/admin/turn_share.ts";
import { turnClock } from "../../../src/server/turn_scheduler.ts";

/** `count` pieces of ten characters, counting how many were taken. */
function countedPieces(count: number) {
  const state = { taken: 0 };
  function* pieces(): Generator<string> {
    for (let i = 0; i < count; i++) {
      state.taken++;
      yield `${String(i).padStart(9, "0")}\n`;
    }
  }
  return { state, pieces: pieces() };
}

const unexpected = (error: unknown) => {
  throw new Error(`unexpected: ${String(error)}`);
};

describe("streamedResponse", () => {
  test("the body is the pieces joined, made a chunk at a time as it is read", async () => {
    const { state, pieces } = countedPieces(100_000);
    let chunkBytes = 0;
    const response = streamedResponse(new RenderChunks(piecesWritten(pieces), (bytes) => (chunkBytes += bytes)), "text/plain", { onError: unexpected });
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(state.taken).toBe(0); // nothing is made before the client reads
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(state.taken).toBeGreaterThan(0);
    expect(state.taken).toBeLessThan(100_000 / 10); // a chunk is at most 64 KiB of text
    const chunks = [first.value!];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    expect(chunks.length).toBeGreaterThan(10);
    const text = new TextDecoder().decode(Buffer.concat(chunks));
    expect(text).toBe(Array.from({ length: 100_000 }, (_, i) => `${String(i).padStart(9, "0")}\n`).join(""));
    expect(chunkBytes).toBe(text.length);
  });

  test("each chunk is made in a turn of its own: other work runs between them", async () => {
    const { pieces } = countedPieces(50_000);
    const reader = streamedResponse(new RenderChunks(piecesWritten(pieces)), "text/plain", { onError: unexpected }).body!.getReader();
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    let chunks = 0;
    while (!(await reader.read()).done) chunks++;
    ticking = false;
    expect(chunks).toBeGreaterThan(5);
    expect(turns).toBeGreaterThanOrEqual(chunks);
  });

  test("an empty body, and a client that stops reading ends the pieces", async () => {
    expect(await streamedResponse(new RenderChunks(piecesWritten([])), "text/plain", { onError: unexpected }).text()).toBe("");
    let finished = false;
    function* endless(): Generator<string> {
      try {
        for (;;) yield "x".repeat(1000);
      } finally {
        finished = true;
      }
    }
    const reader = streamedResponse(new RenderChunks(piecesWritten(endless())), "text/plain", { onError: unexpected }).body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(finished).toBe(true);
  });

  test("onEnd runs once when the body is sent whole, cancelled or failed", async () => {
    const ends = { whole: 0, cancelled: 0, failed: 0 };
    expect(await streamedResponse(new RenderChunks(piecesWritten(countedPieces(10).pieces)), "text/plain", { onError: unexpected, onEnd: () => ends.whole++ }).text()).toHaveLength(100);
    const reader = streamedResponse(new RenderChunks(piecesWritten(countedPieces(100_000).pieces)), "text/plain", { onError: unexpected, onEnd: () => ends.cancelled++ }).body!.getReader();
    await reader.read();
    await reader.cancel();
    function* failing(): Generator<string> {
      yield "first\n";
      throw new Error("a bug");
    }
    await expect(streamedResponse(new RenderChunks(piecesWritten(failing())), "text/plain", { onError: () => {}, onEnd: () => ends.failed++ }).text()).rejects.toThrow("a bug");
    expect(ends).toEqual({ whole: 1, cancelled: 1, failed: 1 });
  });

  test("once the turn's budget is spent (the memcache connections' too), a chunk takes 16 pieces, and stops at 4 KiB", async () => {
    const realNow = turnClock.now;
    // Every turn opens at time 0 of the turn clock: its deadline is long past.
    turnClock.now = () => 0;
    try {
      const { pieces } = countedPieces(1000);
      const reader = streamedResponse(new RenderChunks(piecesWritten(pieces)), "text/plain", { onError: unexpected }).body!.getReader();
      const chunk = await reader.read();
      expect(chunk.value!.length).toBe(16 * 10);
      await reader.cancel();
      const large = streamedResponse(new RenderChunks(piecesWritten(Array.from({ length: 100 }, () => "y".repeat(1000)))), "text/plain", { onError: unexpected }).body!.getReader();
      expect((await large.read()).value!.length).toBe(5 * 1000); // the piece that took it past 4 KiB is the last
      await large.cancel();
    } finally {
      turnClock.now = realNow;
    }
    // The turn opened at time 0 ends with its round: later tests get a fresh one.
    await new Promise<void>((resolve) => setImmediate(resolve));
  });

  test("a pull that writes nothing (steps that only look, past the turn's budget) is called again: the body does not hang", async () => {
    // /history.json at 8,000 busy queues looks at 256 names a step before writing their rates: past
    // the turn's budget a pull took 16 such steps, wrote nothing, and was never called again.
    function* looksThenWrites(out: ChunkWriter): Generator<void> {
      for (let i = 0; i < 100; i++) yield;
      out.text("done");
    }
    const realNow = turnClock.now;
    turnClock.now = () => 0;
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => streamedResponse(new RenderChunks(looksThenWrites), "text/plain", { onError: unexpected }) });
    try {
      expect(await streamedResponse(new RenderChunks(looksThenWrites), "text/plain", { onError: unexpected }).text()).toBe("done");
      expect(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()).toBe("done");
    } finally {
      turnClock.now = realNow;
      void server.stop(true);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  });

  test("a piece that throws ends the body early and is reported once", async () => {
    const errors: unknown[] = [];
    function* failing(): Generator<string> {
      yield "first\n";
      throw new Error("a bug");
    }
    const response = streamedResponse(new RenderChunks(piecesWritten(failing())), "text/plain", { onError: (error) => errors.push(error) });
    await expect(response.text()).rejects.toThrow("a bug");
    expect(errors.map(String)).toEqual(["Error: a bug"]);
  });

  test("many bodies read at once hand out about the admin port's share of a turn (1 MiB), not a chunk each (2,000 /metrics readers: 128 MiB a turn)", async () => {
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const perTurn = new Map<number, number>();
    const chunk = new Uint8Array(64 * 1024);
    const endless = (): ChunkSource => ({
      next: () => {
        perTurn.set(turn, (perTurn.get(turn) ?? 0) + chunk.length);
        return { bytes: chunk, done: false };
      },
      close: () => {},
    });
    const readers = Array.from({ length: 40 }, () => streamedResponse(endless(), "text/plain", { onError: unexpected }).body!.getReader());
    await Promise.all(readers.map(async (reader) => {
      for (let i = 0; i < 20; i++) await reader.read();
      await reader.cancel();
    }));
    ticking = false;
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(ADMIN_TURN_BYTES + chunk.length);
  });
});
