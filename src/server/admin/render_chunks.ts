/**
 * A response body's bytes made a chunk at a time from a render (a generator writing into a
 * ChunkWriter, yielding between lines), each chunk within the turn's budget: a render run for at
 * most SLICE_MS (or until CHUNK_BYTES are written) per chunk, so a reply of 450,000 lines
 * (/metrics of 15,000 queues: 13 MB, 114-180 ms in one turn) never holds up the memcache clients.
 *
 * All bodies being made share the turn's budget with the memcache connections (turn_scheduler.ts):
 * a chunk stops at the turn's deadline, and once the turn is spent a chunk takes at most
 * STEPS_PER_LOOK steps and stops once SPENT_TURN_BYTES are written, so 50 clients reading at once
 * cost a turn about its budget, not 50 times 2 ms (a step is a few dozen numbers or a line, but
 * one writing a long name or a config of a queue is more: the bytes bound it too).
 *
 * A chunk may be empty (its steps only looked at names, or a continuation skipped all it made).
 * `skipBytes` makes a continuation: the render's bytes from that position on, the ones before
 * made again and dropped (for a reader that fell behind a shared body, shared_body.ts).
 * `onMade` hears of every byte made, skipped ones too (the memory pacer counts them as
 * traffic: the text made is garbage once sent).
 *
 * Invariant: the chunks' bytes, in order, are the render's bytes from `skipBytes` on.
 */
import { turnDeadline } from "../turn_scheduler.ts";
import { ChunkWriter } from "./chunk_writer.ts";

const SLICE_MS = 2;
const CHUNK_BYTES = 64 * 1024;
/** Render steps between two looks at the clock (and the most a chunk takes once the turn is spent). */
const STEPS_PER_LOOK = 16;
/** What a chunk made once the turn is spent stops at. */
export const SPENT_TURN_BYTES = 4096;

/** Writes a body into `out`, yielding where it may stop for the turn. */
export type Render = (out: ChunkWriter) => Iterator<unknown>;

/** The next bytes of a body (maybe none this turn), and whether the body is done with them. */
export interface Chunk {
  readonly bytes: Uint8Array;
  readonly done: boolean;
}

/** Where a streamed body takes its chunks from: one turn's work per `next`. */
export interface ChunkSource {
  /** Throws what the render threw (a bug). */
  next(): Chunk;
  /** The body is done with the source (sent, failed or cancelled); later calls do nothing. */
  close(): void;
}

export class RenderChunks implements ChunkSource {
  private readonly out = new ChunkWriter(CHUNK_BYTES);
  private readonly steps: Iterator<unknown>;
  private done = false;

  constructor(
    render: Render,
    private readonly onMade: (bytes: number) => void = () => {},
    private skipBytes = 0,
  ) {
    this.steps = render(this.out);
  }

  next(): Chunk {
    if (!this.done) this.done = this.fill();
    let bytes = this.out.take();
    this.onMade(bytes.length);
    if (this.skipBytes > 0) {
      const skipped = Math.min(this.skipBytes, bytes.length);
      this.skipBytes -= skipped;
      bytes = bytes.subarray(skipped);
    }
    return { bytes, done: this.done };
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.steps.return?.();
  }

  /** Runs the render's steps for this turn's chunk; true once the render is done. */
  private fill(): boolean {
    const deadline = turnDeadline();
    const now = performance.now();
    const maxBytes = now >= deadline ? SPENT_TURN_BYTES : CHUNK_BYTES;
    const until = Math.min(now + SLICE_MS, deadline);
    for (let n = 1; ; n++) {
      if (this.steps.next().done === true) return true;
      if (this.out.length >= maxBytes || (n % STEPS_PER_LOOK === 0 && performance.now() >= until)) return false;
    }
  }
}

/** A render of text pieces, each written as it is taken (for bodies made of a few large pieces). */
export function piecesWritten(pieces: Iterable<string>): Render {
  return function* (out) {
    for (const piece of pieces) {
      out.text(piece);
      yield;
    }
  };
}
