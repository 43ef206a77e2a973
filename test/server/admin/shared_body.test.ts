import { describe, expect, test } from "bun:test";
import type { ChunkSource } from "../../../src/server/admin/render_chunks.ts";
import { SharedBody } from "../../../src/server/admin/shared_body.ts";
import { seededRandom } from "../../helpers/bytes.ts";
import { countedRender, readAll } from "../../helpers/counted_render.ts";

const decoder = new TextDecoder();

/** A reader's text so far and whether it is done. */
class Progress {
  text = "";
  done = false;
  constructor(readonly source: ChunkSource) {}
  /** Reads up to `chunks` chunks. */
  read(chunks: number): void {
    for (let i = 0; i < chunks && !this.done; i++) {
      const chunk = this.source.next();
      this.text += decoder.decode(chunk.bytes);
      this.done = chunk.done;
    }
  }
}

describe("SharedBody", () => {
  test("readers at different speeds each get the whole body, made once", () => {
    const body = countedRender(40_000);
    let idle = 0;
    const shared = new SharedBody(body.render, body.onMade, 8 * 1024 * 1024, () => idle++);
    const readers = Array.from({ length: 6 }, () => new Progress(shared.reader()));
    for (let round = 0; !readers.every((reader) => reader.done); round++) {
      for (const [k, reader] of readers.entries()) reader.read(round % (k + 1) === 0 ? k + 1 : 0);
    }
    for (const reader of readers) expect(reader.text).toBe(body.text);
    expect(body.counts).toEqual({ renders: 1, made: Buffer.byteLength(body.text) });
    expect(idle).toBe(0); // the readers are done, not gone: they leave when their streams close
    for (const reader of readers) reader.source.close();
    expect(idle).toBe(1);
  });

  test("a body within the window can be joined from its beginning, with nothing made again", () => {
    const body = countedRender(20_000);
    const shared = new SharedBody(body.render, body.onMade, 4 * 1024 * 1024, () => {});
    expect(readAll(shared.reader())).toBe(body.text);
    expect(shared.joinable).toBe(true);
    expect(readAll(shared.reader())).toBe(body.text);
    expect(body.counts.renders).toBe(1);
  });

  test("holds at most the window; a reader that fell behind it continues alone with the same bytes", () => {
    const body = countedRender(100_000);
    const windowBytes = 256 * 1024;
    expect(Buffer.byteLength(body.text)).toBeGreaterThan(10 * windowBytes);
    const shared = new SharedBody(body.render, body.onMade, windowBytes, () => {});
    const fast = new Progress(shared.reader());
    const slow = new Progress(shared.reader());
    const stopped = new Progress(shared.reader()); // a client that reads nothing
    stopped.read(1);
    let mostHeld = 0;
    while (!fast.done) {
      fast.read(3);
      slow.read(1);
      mostHeld = Math.max(mostHeld, shared.heldBytes);
    }
    expect(mostHeld).toBeLessThanOrEqual(windowBytes);
    expect(shared.joinable).toBe(false);
    expect(body.counts.renders).toBe(2); // the slow reader, a third as fast, fell behind on the way
    slow.read(Infinity);
    stopped.read(Infinity);
    for (const reader of [fast, slow, stopped]) expect(reader.text).toBe(body.text);
    expect(body.counts.renders).toBe(3); // the two left behind made it again, each on its own
    expect(body.counts.made).toBeLessThanOrEqual(3 * Buffer.byteLength(body.text));
  });

  test("once it can't be joined, a chunk goes as soon as every reader has it", () => {
    const body = countedRender(100_000);
    const shared = new SharedBody(body.render, body.onMade, 256 * 1024, () => {});
    const readers = [new Progress(shared.reader()), new Progress(shared.reader())];
    while (shared.joinable) readers[0]!.read(1);
    readers[1]!.read(Infinity); // fell behind, reads alone
    readers[0]!.read(1);
    expect(shared.heldBytes).toBe(0);
    readers[0]!.read(Infinity);
    expect(readers.map((reader) => reader.text)).toEqual([body.text, body.text]);
  });

  test("readers that join, read, pause, stop and leave at random each get the whole body; the window holds", () => {
    const random = seededRandom(17);
    for (let round = 0; round < 20; round++) {
      const body = countedRender(2000 + Math.floor(random() * 20_000));
      const windowBytes = (1 + Math.floor(random() * 16)) * 16 * 1024;
      const shared = new SharedBody(body.render, body.onMade, windowBytes, () => {});
      const readers: Progress[] = [];
      for (let step = 0; step < 5000 && !(readers.length > 0 && readers.every((reader) => reader.done)); step++) {
        if ((readers.length < 8 && shared.joinable && random() < 0.05) || readers.length === 0) readers.push(new Progress(shared.reader()));
        const reader = readers[Math.floor(random() * readers.length)]!;
        if (random() < 0.01) {
          reader.source.close(); // the client went away: the others go on
          readers.splice(readers.indexOf(reader), 1);
        } else {
          reader.read(Math.floor(random() * 4));
        }
        expect(shared.heldBytes).toBeLessThanOrEqual(windowBytes);
      }
      for (const reader of readers) {
        reader.read(Infinity);
        expect(reader.text).toBe(body.text);
      }
    }
  });

  test("a render that throws fails every reader that reads on, and the body can't be joined", () => {
    function* failing(out: import("../../../src/server/admin/chunk_writer.ts").ChunkWriter): Generator<void> {
      out.text("first\n");
      yield;
      throw new Error("a bug");
    }
    const shared = new SharedBody(failing, () => {}, 1024, () => {});
    const [a, b] = [shared.reader(), shared.reader()];
    expect(() => readAll(a)).toThrow("a bug");
    expect(() => b.next()).toThrow("a bug");
    expect(shared.joinable).toBe(false);
  });
});
