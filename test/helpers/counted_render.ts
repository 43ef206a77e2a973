/**
 * A render for tests of streamed and shared bodies (src/server/admin/render_chunks.ts): `lines`
 * numbered lines of text, counting how many times the render was started and the bytes made.
 */
import type { ChunkWriter } from "../../src/server/admin/chunk_writer.ts";
import type { Chunk, ChunkSource, Render } from "../../src/server/admin/render_chunks.ts";

export interface CountedRender {
  readonly render: Render;
  /** The whole body's text. */
  readonly text: string;
  /** Renders started, and bytes made (for `onMade`). */
  readonly counts: { renders: number; made: number };
  readonly onMade: (bytes: number) => void;
}

export function countedRender(lines: number, lineText = (i: number) => `line ${i} of the body, ${"x".repeat(i % 50)}\n`): CountedRender {
  const counts = { renders: 0, made: 0 };
  function* render(out: ChunkWriter): Generator<void> {
    counts.renders++;
    for (let i = 0; i < lines; i++) {
      out.text(lineText(i));
      yield;
    }
  }
  const text = Array.from({ length: lines }, (_, i) => lineText(i)).join("");
  return { render, text, counts, onMade: (bytes) => (counts.made += bytes) };
}

/** Reads `source` to its end in this turn, as text; throws what it throws. */
export function readAll(source: ChunkSource): string {
  const parts: Uint8Array[] = [];
  for (;;) {
    const chunk: Chunk = source.next();
    parts.push(chunk.bytes);
    if (chunk.done) return new TextDecoder().decode(Buffer.concat(parts));
  }
}
